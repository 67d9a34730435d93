"""Bazel smoke test: the `ignite` py_library imports, finding _core.so in its runfiles."""
import os
import unittest

import ignite
from ignite import _core


class ImportTest(unittest.TestCase):
    def test_import(self):
        self.assertEqual(ignite.__version__, _core.version())
        if os.environ.get("TEST_SRCDIR"):  # the runfiles copy, not the checkout's .bazel/bin
            self.assertTrue(_core.__file__.startswith(os.environ["TEST_SRCDIR"]), _core.__file__)
        self.assertIn("Engine", ignite.__all__)
        svc_error = ignite.ERROR_CLASSES["service"]
        self.assertIs(svc_error, ignite.ServiceError)
        with self.assertRaises(ignite.ServiceError):
            ignite.Engine().load("/nonexistent-ignite-service")


if __name__ == "__main__":
    unittest.main()
