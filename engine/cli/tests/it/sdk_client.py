"""The Docker SDK for Python (Debian's python3-docker) driving an engine: the calls a Python
user makes first. Run as `python3 sdk_client.py unix:///path/to.sock PREFIX`; any failed
assertion exits non-zero with its message. Everything it makes is named PREFIX-… and removed."""

import sys

import docker

base_url, prefix = sys.argv[1], sys.argv[2]
client = docker.DockerClient(base_url=base_url, version="1.41")
made = []


def name(suffix):
    return f"{prefix}-{suffix}"


try:
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.41"
    assert client.info()["Containers"] >= 0
    assert any("busybox:latest" in image.tags for image in client.images.list())

    volume = client.volumes.create(name("data"), labels={"app": prefix})
    made.append(volume)
    network = client.networks.create(name("net"), driver="bridge", labels={"app": prefix})
    made.append(network)
    assert client.networks.get(network.id).attrs["Labels"] == {"app": prefix}

    web = client.containers.run(
        "busybox",
        ["sh", "-c", "echo started; exec sleep 1000"],
        name=name("web"),
        detach=True,
        environment={"GREETING": "hello"},
        labels={"app": prefix},
        volumes={volume.name: {"bind": "/data", "mode": "rw"}},
        network=network.name,
    )
    made.insert(0, web)
    web.reload()
    assert web.status == "running", web.status
    assert web.attrs["Config"]["Env"][0] == "GREETING=hello" or "GREETING=hello" in web.attrs["Config"]["Env"]

    # exec_run without a stream: Docker's frames, stdout and stderr together (in the order the
    # two pipes deliver them), or apart.
    result = web.exec_run(["sh", "-c", "echo out; echo err >&2; echo $GREETING > /data/f"])
    assert (result.exit_code, sorted(result.output.splitlines())) == (0, [b"err", b"out"]), result
    result = web.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert result.output == (b"out\n", b"err\n"), result
    assert web.exec_run(["sh", "-c", "exit 3"]).exit_code == 3
    assert web.exec_run(["echo", "tty"], tty=True).output == b"tty\r\n"

    # put_archive / get_archive (docker cp): a file in, the same file out.
    import io
    import tarfile

    upload = io.BytesIO()
    with tarfile.open(fileobj=upload, mode="w") as tar:
        data = b"copied in\n"
        info = tarfile.TarInfo("note.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert web.put_archive("/tmp", upload.getvalue()) is True
    chunks, stat = web.get_archive("/tmp/note.txt")
    assert stat["name"] == "note.txt" and stat["size"] == 10, stat
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        assert tar.extractfile("note.txt").read() == b"copied in\n"

    assert b"started" in web.logs()
    assert web.top()["Titles"][-1] == "CMD"
    web.pause()
    web.reload()
    assert web.status == "paused"
    web.unpause()
    web.update(mem_limit="64m", memswap_limit="128m", restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    web.reload()
    assert web.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert web.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"

    reader = client.containers.run(
        "busybox", ["cat", "/data/f"], name=name("reader"), volumes={volume.name: {"bind": "/data"}}, remove=False
    )
    assert reader == b"hello\n", reader
    made.insert(0, client.containers.get(name("reader")))

    df = client.df()
    ours = [v for v in df["Volumes"] if v["Name"] == volume.name]
    assert ours and ours[0]["UsageData"]["RefCount"] == 2, ours

    events = client.events(
        since=0, until=int(__import__("time").time()) + 1, decode=True, filters={"container": web.id, "event": "pause"}
    )
    assert [e["Action"] for e in events] == ["pause"]

    web.stop(timeout=1)
    pruned = client.containers.prune(filters={"label": f"app={prefix}"})
    assert web.id in pruned["ContainersDeleted"], pruned
    made = [m for m in made if m not in (web,)]
finally:
    for thing in made:
        try:
            if isinstance(thing, docker.models.containers.Container):
                thing.remove(force=True)
            else:
                thing.remove()
        except docker.errors.NotFound:
            pass
print("ok")
