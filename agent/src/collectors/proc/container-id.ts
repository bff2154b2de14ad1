// Container id from a /proc/<pid>/cgroup file: docker, containerd (CRI),
// CRI-O and podman put a 64-hex id in the last path component.

const CONTAINER_ID = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?$/;

export function containerIdFromCgroup(text: string): string {
  for (const line of text.split("\n")) {
    const path = line.slice(line.lastIndexOf(":") + 1);
    const match = CONTAINER_ID.exec(path);
    if (match) return match[1];
  }
  return "";
}
