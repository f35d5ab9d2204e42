#!/usr/bin/env python3
"""Record Docker 20.10's list outputs next to the Engine API JSON they were made from.

With the containers of capture-inspect.py (plus fmt-c2 running `sleep 1000`, fmt-c3 exited 3)
and the volume fmt-vol1, run `python3 capture-lists.py` to write lists.json. The unit tests
rebuild every output from the JSON with the capture time as "now".
"""
import json
import os
import subprocess
import time

DOCKER = "/usr/bin/docker"
HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = "fmt-bb:v1"


def api(path):
    out = subprocess.run(["curl", "-s", "--unix-socket", "/var/run/docker.sock", "http://x/v1.41" + path],
                         capture_output=True, check=True).stdout
    return json.loads(out)


def docker(*args):
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=True).stdout


COMMANDS = {
    "containers": [
        ["ps", "-a"],
        ["ps", "-a", "-s"],
        ["ps", "-a", "--no-trunc"],
        ["ps", "-a", "--format", "{{json .}}"],
        ["ps", "-a", "--format", "table {{.Names}}\\t{{.Ports}}\\t{{.Labels}}\\t{{.Mounts}}\\t{{.Networks}}"],
        ["ps", "-a", "--format", "{{.Names}}: {{.State}} {{.Label \"b\"}}"],
        ["ps", "-a", "--format", "raw"],
        ["ps", "-a", "--format", "table {{.ID}}\t{{.Image}}\t{{.CreatedAt}}"],
    ],
    "images": [
        ["images"],
        ["images", "--digests"],
        ["images", "--no-trunc"],
        ["images", "--format", "{{json .}}"],
        ["images", "--format", "table {{.Repository}}:{{.Tag}}\\t{{.Size}}\\t{{.VirtualSize}}\\t{{.CreatedAt}}"],
        ["images", "--format", "raw"],
    ],
    "volumes": [["volume", "ls"], ["volume", "ls", "--format", "{{json .}}"], ["volume", "ls", "--format", "raw"]],
    "networks": [["network", "ls"], ["network", "ls", "--no-trunc"], ["network", "ls", "--format", "{{json .}}"]],
    "history": [["history", IMAGE], ["history", "--no-trunc", IMAGE], ["history", "--human=false", IMAGE]],
}


def main():
    data = {
        "now": int(time.time()),
        "api": {
            "containers": api("/containers/json?all=1&size=1"),
            "images": api("/images/json"),
            "volumes": api("/volumes")["Volumes"],
            "networks": api("/networks"),
            "history": api(f"/images/{IMAGE}/history"),
        },
        "outputs": [],
    }
    for kind, commands in COMMANDS.items():
        for args in commands:
            data["outputs"].append({"kind": kind, "args": args, "stdout": docker(*args)})
    with open(os.path.join(HERE, "lists.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
