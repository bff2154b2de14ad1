// Container id from a /proc/<pid>/cgroup file. Runtimes name the cgroup of a
// container after its 64-hex id, each in its own way:
//   docker (cgroupfs)       /docker/<id>
//   docker (systemd)        /system.slice/docker-<id>.scope
//   containerd (CRI)        .../cri-containerd-<id>.scope, /kubepods/.../<id>
//   CRI-O                   .../crio-<id>.scope (crio-conmon-<id>.scope is its monitor, not the container)
//   podman                  .../libpod-<id>.scope, /machine.slice/libpod-<id>.scope/container
//   kubepods (cgroupfs)     /kubepods/besteffort/pod<uid>/<id>
// The innermost match wins (a container's own nested cgroups sit below it).

const CONTAINER_COMPONENT =
  /^(?:(?:docker|cri-containerd|crio|libpod|containerd)-)?([0-9a-f]{64})(?:\.scope)?$/;
const MONITOR_COMPONENT = /^(?:crio-conmon|libpod-conmon)-[0-9a-f]{64}\.scope$/;

export function containerIdFromCgroup(text: string): string {
  for (const line of text.split("\n")) {
    const id = containerIdFromPath(line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1));
    if (id !== "") return id;
  }
  return "";
}

/** The container id in one cgroup path, "" when none. */
export function containerIdFromPath(path: string): string {
  const parts = path.split("/");
  for (let index = parts.length - 1; index >= 0; index--) {
    const part = parts[index];
    if (MONITOR_COMPONENT.test(part)) return "";
    const match = CONTAINER_COMPONENT.exec(part);
    if (match) return match[1];
  }
  return "";
}
