import { containerIdFromCgroup } from "./container-id";

// Lines as the kernel prints /proc/<pid>/cgroup under each runtime (cgroup v2 "0::", v1 "N:controllers:").
const ID = "3f4e8b2a9c1d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const OTHER = "9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c";

describe("container id", () => {
  it("container id - docker with the systemd cgroup driver (v2)", () => {
    expect(containerIdFromCgroup(`0::/system.slice/docker-${ID}.scope\n`)).toBe(ID);
  });

  it("container id - docker with the cgroupfs driver (v1, several controllers)", () => {
    const text = [
      `12:pids:/docker/${ID}`,
      `11:memory:/docker/${ID}`,
      `1:name=systemd:/docker/${ID}`,
      `0::/docker/${ID}`,
      "",
    ].join("\n");
    expect(containerIdFromCgroup(text)).toBe(ID);
  });

  it("container id - containerd CRI under kubepods (systemd driver)", () => {
    const line =
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7c4a5b0e_1f2d_4c3b_9a8e_6d5f4c3b2a19.slice/` +
      `cri-containerd-${ID}.scope\n`;
    expect(containerIdFromCgroup(line)).toBe(ID);
  });

  it("container id - kubepods with the cgroupfs driver (bare id under the pod)", () => {
    expect(
      containerIdFromCgroup(`0::/kubepods/besteffort/pod0f3e1c2a-8b7d-4e6f-9a0b-1c2d3e4f5a6b/${ID}\n`),
    ).toBe(ID);
    expect(containerIdFromCgroup(`4:cpu,cpuacct:/kubepods/burstable/podabc/${ID}\n`)).toBe(ID);
  });

  it("container id - CRI-O, and its conmon monitor is not the container", () => {
    const pod = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12ab.slice";
    expect(containerIdFromCgroup(`0::${pod}/crio-${ID}.scope\n`)).toBe(ID);
    expect(containerIdFromCgroup(`0::${pod}/crio-conmon-${OTHER}.scope\n`)).toBe("");
  });

  it("container id - podman (rootful, rootless, and a nested cgroup inside the container)", () => {
    expect(containerIdFromCgroup(`0::/machine.slice/libpod-${ID}.scope\n`)).toBe(ID);
    expect(
      containerIdFromCgroup(
        `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope\n`,
      ),
    ).toBe(ID);
    expect(containerIdFromCgroup(`0::/machine.slice/libpod-${ID}.scope/container\n`)).toBe(ID);
    expect(containerIdFromCgroup(`0::/machine.slice/libpod-conmon-${OTHER}.scope\n`)).toBe("");
  });

  it("container id - the host and near misses have none", () => {
    expect(containerIdFromCgroup("0::/user.slice/user-0.slice/session-1.scope\n")).toBe("");
    expect(containerIdFromCgroup("0::/init.scope\n")).toBe("");
    expect(containerIdFromCgroup("0::/\n")).toBe("");
    expect(containerIdFromCgroup(`0::/system.slice/docker-${ID.slice(1)}.scope\n`)).toBe("");
    expect(containerIdFromCgroup(`0::/system.slice/docker-${ID.toUpperCase()}.scope\n`)).toBe("");
  });
});
