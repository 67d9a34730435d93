#!/usr/bin/env python3
"""Records Docker Engine API replies into tests/docker/testdata/ for client_test.cpp.

Deliberately independent of the C++ client: it speaks raw HTTP on the daemon socket so the
recordings show what the daemon really says, not what our client thinks it says.

Needs a running daemon and /bin/busybox (busybox-static). Everything it creates is tagged or
named ignite-test/... / ignite-test-record-* and removed again at the end.

    python3 tests/docker/record_testdata.py [--socket /var/run/docker.sock]
"""

import argparse
import base64
import http.client
import io
import json
import os
import socket
import sys
import tarfile
import urllib.parse

API = "/v1.41"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "testdata")
IMAGE = "ignite-test/busybox:record"
LABEL = "ignite-test=record"


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(self.socket_path)


class Daemon:
    def __init__(self, path):
        self.path = path

    def call(self, method, target, body=None, content_type="application/json"):
        conn = UnixConnection(self.path)
        headers = {}
        if body is not None:
            if not isinstance(body, (bytes, bytearray)):
                body = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        conn.request(method, API + target, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheader("Content-Type", ""), data


def record(daemon, name, comment, method, target, body=None, content_type="application/json",
           binary=False):
    status, ctype, data = daemon.call(method, target, body, content_type)
    entry = {
        "comment": comment,
        "request": {"method": method, "path": API + target},
        "status": status,
        "content_type": ctype,
    }
    if isinstance(body, dict):
        entry["request"]["body"] = body
    if binary:
        entry["body_base64"] = base64.b64encode(data).decode()
    else:
        entry["body"] = data.decode()
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(entry, f, indent=2)
        f.write("\n")
    print(f"{name}: HTTP {status}")
    return status, data


def tar_bytes(files):
    """files: {name: (bytes, mode) | ('->', target)}"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, spec in files.items():
            info = tarfile.TarInfo(name)
            if spec[0] == "->":
                info.type = tarfile.SYMTYPE
                info.linkname = spec[1]
                tar.addfile(info)
            else:
                info.size = len(spec[0])
                info.mode = spec[1]
                tar.addfile(info, io.BytesIO(spec[0]))
    return buf.getvalue()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", default="/var/run/docker.sock")
    args = parser.parse_args()
    if not os.path.exists("/bin/busybox"):
        sys.exit("/bin/busybox is missing: apt-get install -y busybox-static")
    os.makedirs(OUT, exist_ok=True)
    d = Daemon(args.socket)
    q = urllib.parse.quote

    with open("/bin/busybox", "rb") as f:
        busybox = f.read()
    rootfs = {"bin/busybox": (busybox, 0o755)}
    for applet in ("sh", "cat", "echo", "sleep"):
        rootfs["bin/" + applet] = ("->", "busybox")
    repo, tag = IMAGE.split(":")
    changes = "&".join("changes=" + q(c, safe="")
                       for c in ("ENV PATH=/bin", 'CMD ["/bin/sh"]', "LABEL " + LABEL))
    record(d, "import_200.json", "POST /images/create?fromSrc=- with a busybox rootfs tar",
           "POST", f"/images/create?fromSrc=-&repo={q(repo, safe='')}&tag={tag}&{changes}",
           tar_bytes(rootfs), "application/x-tar")

    containers = []
    try:
        record(d, "ping.json", "GET /_ping", "GET", "/_ping")
        record(d, "version.json", "GET /version", "GET", "/version")
        record(d, "image_inspect_200.json", "inspect the imported image", "GET",
               f"/images/{IMAGE}/json")
        record(d, "image_inspect_404.json", "inspect an image that does not exist", "GET",
               "/images/ignite-test/nonexistent:latest/json")
        record(d, "images_list.json", "list images filtered by label", "GET",
               "/images/json?all=0&filters=" + q(json.dumps({"label": [LABEL]}), safe=""))
        record(d, "create_404.json", "create from an image that does not exist", "POST",
               "/containers/create", {"Image": "ignite-test/nonexistent:latest"})

        body = {"Image": IMAGE, "Cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"],
                "Tty": False, "Labels": {"ignite-test": "record"}}
        name = "ignite-test-record-1"
        _, data = record(d, "create_201.json", "create a container", "POST",
                         f"/containers/create?name={name}", body)
        cid = json.loads(data)["Id"]
        containers.append(cid)
        record(d, "create_409.json", "create with a name already in use", "POST",
               f"/containers/create?name={name}", body)
        record(d, "start_204.json", "start", "POST", f"/containers/{cid}/start")
        record(d, "wait_200.json", "wait until not running (exit 3)", "POST",
               f"/containers/{cid}/wait?condition=not-running")
        record(d, "logs_200.json", "logs: multiplexed stdout+stderr frames", "GET",
               f"/containers/{cid}/logs?stdout=1&stderr=1", binary=True)
        record(d, "kill_409.json", "kill a container that is not running", "POST",
               f"/containers/{cid}/kill?signal=KILL")
        record(d, "containers_list.json", "list containers filtered by label", "GET",
               "/containers/json?all=1&filters=" + q(json.dumps({"label": [LABEL]}), safe=""))
        record(d, "remove_204.json", "remove", "DELETE", f"/containers/{cid}?force=1&v=1")
        containers.remove(cid)
        record(d, "remove_404.json", "remove a container that does not exist", "DELETE",
               f"/containers/{cid}?force=1&v=1")
        record(d, "kill_404.json", "kill a container that does not exist", "POST",
               f"/containers/{cid}/kill?signal=KILL")
        record(d, "container_inspect_404.json", "inspect a container that does not exist", "GET",
               f"/containers/{cid}/json")
        record(d, "start_404.json", "start a container that does not exist", "POST",
               f"/containers/{cid}/start")

        _, _, data = d.call("POST", "/containers/create", {"Image": IMAGE, "Cmd": ["sleep", "30"],
                                                         "Labels": {"ignite-test": "record"}})
        cid = json.loads(data)["Id"]
        containers.append(cid)
        d.call("POST", f"/containers/{cid}/start")
        record(d, "start_304.json", "start a container that is already running", "POST",
               f"/containers/{cid}/start")
        record(d, "kill_204.json", "kill a running container", "POST",
               f"/containers/{cid}/kill?signal=KILL")

        labels = q(json.dumps({"ignite-test": "record"}), safe="")
        build = f"/build?t=ignite-test/build:record&labels={labels}" \
                "&dockerfile=Dockerfile&rm=1&forcerm=1&pull=0"
        ctx = tar_bytes({"Dockerfile": (f"FROM {IMAGE}\nRUN exit 3\n".encode(), 0o644)})
        record(d, "build_error.json", "build whose RUN step fails: errorDetail in a 200 stream",
               "POST", build, ctx, "application/x-tar")
        ctx = tar_bytes({"Dockerfile": (f"FROM {IMAGE}\nBOGUS x\n".encode(), 0o644)})
        record(d, "build_parse_error.json", "build with a Dockerfile the daemon cannot parse",
               "POST", build, ctx, "application/x-tar")
        ctx = tar_bytes({"Dockerfile": (f"FROM {IMAGE}\nRUN echo built >/built\n".encode(),
                                        0o644)})
        record(d, "build_ok.json", "successful build: stream lines and aux ID", "POST", build,
               ctx, "application/x-tar")
        record(d, "image_remove_200.json", "remove an image", "DELETE",
               "/images/ignite-test/build:record?force=1")
        record(d, "image_remove_404.json", "remove an image that does not exist", "DELETE",
               "/images/ignite-test/build:record?force=1")
    finally:
        for cid in containers:
            d.call("DELETE", f"/containers/{cid}?force=1&v=1")
        d.call("DELETE", "/images/ignite-test/build:record?force=1")
        d.call("DELETE", f"/images/{IMAGE}?force=1")


if __name__ == "__main__":
    main()
