#!/usr/bin/env python3
"""Record what the real Docker 20.10 CLI prints for `inspect -f` templates.

Run against a container made like the one in container-inspect.json:
  docker create --name fmt-c1 -l com.example.vendor=acme -l b=two -e A=1 -e 'B=x y' \
    -p 8080:80 -p 9000-9002:9000-9002/udp -v fmt-vol1:/data IMAGE sh -c 'sleep 1000 && echo "<hi>"'
  docker start fmt-c1
  python3 capture-inspect.py fmt-c1   # writes container-inspect.json and inspect-cases.json
The unit tests replay each template on the JSON and expect the same output or error.
"""
import json
import os
import subprocess
import sys

DOCKER = "/usr/bin/docker"
HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = [
    "{{json .Mounts}}",
    "{{.NetworkSettings.IPAddress}}",
    "{{range .Mounts}}{{.Name}}{{end}}",
    '{{index .Config.Labels "b"}}',
    '{{index .Config.Labels "zz"}}',
    "{{.State.Running}}",
    "{{.Config.Env}}",
    "{{.Config.Labels}}",
    "{{.Foo}}",
    "{{.Foo.Bar}}",
    "{{.State.Nope}}",
    "{{.State.Health.Status}}",
    "{{.Config.Labels.zz}}",
    "{{.Config.Labels.zz.y}}",
    "{{if .Config.Labels.zz}}y{{else}}n{{end}}",
    "{{.Config.Entrypoint}}",
    "{{.HostConfig.Binds}}",
    "{{.NetworkSettings.Ports}}",
    "{{.Config.ExposedPorts}}",
    "{{json .Config.Cmd}}",
    "{{.Config.Cmd}}",
    "{{.HostConfig.PortBindings}}",
    '{{.State.Pid | printf "%T"}}',
    "{{len .Config.Env}}",
    "{{.Mounts}}",
    "{{.State}}",
    "{{.Config.Volumes}}",
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
    "{{.HostConfig.LogConfig}}",
    "{{json .State}}",
    "{{json .Config.Labels}}",
    '{{join .Config.Env ","}}',
    "{{.Config.Labels.b}}",
    "{{.HostConfig.Dns}}",
    "{{.HostConfig.Tmpfs}}",
    '{{printf "%q %5d|%-6s|%x" .Name .State.Pid .Driver .Name}}',
    "{{.Name | upper | truncate 4}}",
    '{{title "hello wOrld-foo_bar"}}',
    '{{split .Name "c"}}',
    "{{pad .Driver 2 3}}|",
    "{{println .Name .State.Pid}}",
    '{{print .State.Pid 3 "x" 4 5}}',
    "{{eq .State.Pid 0}}",
    '{{eq .Name "x" "/fmt-c1"}}',
    "{{len .Name}}",
    "{{slice .Name 1 3}}",
    "{{table}}",
    "{{.Name}} {{end}}",
    "{{ .State.ExitCode | eq 0 }}",
    "{{.Config.Image}}{{/* c */}}",
    '{{- "a" -}}  {{"b"}}',
    "{{.HostConfig.RestartPolicy}}",
    "{{.NetworkSettings.Networks.bridge.IPAddress}}",
    "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}",
    "{{.Config.OnBuild}}",
    "{{.HostConfig.ConsoleSize}}",
    "{{.Args}}",
    """{{html "<a&b>"}} {{js "a'b<"}} {{urlquery "a b&c"}}""",
    "{{with .State}}{{.Status}}/{{$.Name}}{{end}}",
    "{{range $i, $e := .Config.Env}}{{if $i}},{{end}}{{$e}}{{end}}",
    "{{if and .State.Running (not .State.Paused)}}up{{else if .State.Dead}}dead{{else}}other{{end}}",
    "{{$n := .Name}}{{$n = upper $n}}{{$n}}",
    '{{define "x"}}<{{.}}>{{end}}{{template "x" .Driver}}',
    "{{range .Config.Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}}{{end}}",
    "{{index .Config.Env 1}} {{index .Config.Env 5}}",
    "{{lt .State.Pid 100}} {{ge .Name \"/a\"}}",
    "{{.State.Pid.X}}",
    '{{.Name "arg"}}',
    "{{nope}}",
    "{{.Name}",
    "{{json .NetworkSettings.Ports}}",
    "{{.GraphDriver.Name}} {{.Platform}} {{.RestartCount}} {{.AppArmorProfile}}|",
    "{{upper 5}}",
    "{{printf \"%d %s %v\" 1}}",
    "{{len .State.Pid}}",
    "{{json .}}",
    "{{json .Config}}",
    "{{.Config.Hostname}} {{.HostConfig.Memory}} {{.State.StartedAt}} {{lower .State.Status}}",
    '{{printf "%s|%v|%d" .Config.Env .Config.Labels .HostConfig.Memory}}',
    "{{.Config.Env | len}}",
    '{{index .NetworkSettings.Ports "80/tcp"}}',
    '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}',
    "{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}\n{{end}}",
    '{{with .Config.Labels}}{{index . "b"}}{{end}}',
    '{{.Id | printf "%.12s"}} {{slice .Id 0 12}} {{truncate .Id 12}}',
    """{{range .Config.Env}}
  {{- .}}
{{end}}""",
    '{{if eq .State.Status "exited" "running"}}known{{end}} {{ne .State.ExitCode 0}}',
    "{{.State.ExitCode}} {{.State.Error}}|{{.State.OOMKilled}}",
    '{{range $k, $v := .Config.ExposedPorts}}{{$k}} {{end}}',
    "{{.Config.Labels | len}} {{len .NetworkSettings.Networks}}",
    '{{index .Config.Labels "com.example.vendor" | upper}}',
    '{{.Mounts | json}}',
    '{{$.Name}}{{with $x := .State}}{{$x.Status}}{{end}}',
    '{{printf "%-8s|%8s|%q" .Driver .Driver .Config.Env}}',
    '{{or .Config.Domainname "none"}} {{and .State.Running "yes"}}',
    "{{/* a comment */ -}}   {{.Driver}}",
    "{{.HostConfig.NanoCpus | printf \"%T\"}} {{printf \"%T %T\" .Config.Env .Config.Labels}}",
    "{{len .Mounts}} {{(index .Mounts 0).Destination}} {{index .Mounts 0 | json}}",
    "{{.Config.StopSignal}}{{.Config.User}}|{{.Config.WorkingDir}}|",
]


def main():
    name = sys.argv[1]
    inspect = json.loads(subprocess.run([DOCKER, "inspect", name], capture_output=True, check=True).stdout)[0]
    with open(os.path.join(HERE, "container-inspect.json"), "w") as f:
        json.dump(inspect, f, indent=2)
        f.write("\n")
    cases = []
    for template in TEMPLATES:
        run = subprocess.run([DOCKER, "inspect", "-f", template, name], capture_output=True, text=True)
        case = {"template": template}
        if run.returncode == 0:
            case["output"] = run.stdout[:-1]  # docker adds one newline
        else:
            case["error"] = run.stderr.strip().removeprefix("template parsing error: ")
        cases.append(case)
    with open(os.path.join(HERE, "inspect-cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
