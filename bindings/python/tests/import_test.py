"""Bazel smoke test: the `ignite_sandbox` py_library imports, finding _core.so in its runfiles."""
import os
import unittest

import ignite_sandbox
from ignite_sandbox import _core


class ImportTest(unittest.TestCase):
    def test_import(self):
        self.assertEqual(ignite_sandbox.__version__, _core.version())
        if os.environ.get("TEST_SRCDIR"):  # the runfiles copy, not the checkout's .bazel/bin
            self.assertTrue(_core.__file__.startswith(os.environ["TEST_SRCDIR"]), _core.__file__)
        self.assertIn("Engine", ignite_sandbox.__all__)
        svc_error = ignite_sandbox.ERROR_CLASSES["service"]
        self.assertIs(svc_error, ignite_sandbox.ServiceError)
        with ignite_sandbox.Engine() as engine, self.assertRaises(ignite_sandbox.ServiceError):
            engine.load("/nonexistent-ignite-service")


if __name__ == "__main__":
    unittest.main()
