/**
 * A swarm of several Docker engines on this one machine (issue 18): each node is a `dockerd` with
 * its own data-root, exec-root and socket, in a network namespace of its own with its own
 * hostname, joined by a veth to one bridge on 10.233.250.0/24 — the project's own test hosts; no
 * other address is ever contacted (the namespaces have no default route, so an engine's registry
 * lookups fail at once instead of timing out). Node 1 is the manager; the others join as workers.
 * Images come from the host engine (`docker save | docker load`), as there is no registry.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import Docker from "dockerode";
import { missingPrerequisite } from "./prerequisites.js";

const BRIDGE = "berthsw0";
const NET = "10.233.250";
const POOL = "10.234.0.0/16";

export interface SwarmNode {
  name: string;
  hostname: string;
  addr: string;
  socket: string;
  docker: Docker;
}

export interface SwarmNodes {
  nodes: SwarmNode[];
  manager: SwarmNode;
  /** Stops node i's engine as a failed machine would stop answering (SIGKILL of its dockerd). */
  killEngine(i: number): void;
  destroy(): Promise<void>;
}

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: "utf8" }).trim();
const quiet = (cmd: string, args: string[]): void => void spawnSync(cmd, args, { stdio: "ignore" });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const dirs = (name: string): { data: string; exec: string } => ({ data: `/var/lib/${name}`, exec: `/run/${name}` });

function network(name: string, i: number): void {
  if (spawnSync("ip", ["link", "show", BRIDGE], { stdio: "ignore" }).status !== 0) {
    sh("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    sh("ip", ["addr", "add", `${NET}.1/24`, "dev", BRIDGE]);
    sh("ip", ["link", "set", BRIDGE, "up"]);
    // Docker's FORWARD policy drops bridged traffic that br_netfilter hands to iptables.
    sh("iptables", ["-I", "FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]);
  }
  sh("ip", ["netns", "add", name]);
  sh("ip", ["link", "add", `vh-${name}`, "type", "veth", "peer", "name", "eth0", "netns", name]);
  sh("ip", ["link", "set", `vh-${name}`, "master", BRIDGE, "up"]);
  sh("ip", ["-n", name, "addr", "add", `${NET}.${10 + i}/24`, "dev", "eth0"]);
  sh("ip", ["-n", name, "link", "set", "eth0", "up"]);
  sh("ip", ["-n", name, "link", "set", "lo", "up"]);
}

async function startEngine(name: string, hostname: string): Promise<SwarmNode & { pid: number }> {
  const { data, exec } = dirs(name);
  mkdirSync(data, { recursive: true });
  mkdirSync(exec, { recursive: true });
  const socket = `${exec}/docker.sock`;
  const log = openSync(`${exec}.log`, "w");
  // nsenter, not `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts dockerd needs.
  const script = `hostname ${hostname}; exec dockerd --data-root ${data} --exec-root ${exec} --pidfile ${exec}/docker.pid -H unix://${socket} --storage-driver overlay2`;
  const child = spawn("nsenter", [`--net=/var/run/netns/${name}`, "unshare", "--uts", "sh", "-c", script], { stdio: ["ignore", log, log], detached: true });
  child.unref();
  const docker = new Docker({ socketPath: socket });
  for (let i = 0; i < 150; i++) {
    if (await docker.ping().then(() => true, () => false)) return { name, hostname, addr: "", socket, docker, pid: Number(readFileSync(`${exec}/docker.pid`, "utf8")) };
    if (child.exitCode !== null) break;
    await sleep(200);
  }
  throw new Error(`dockerd of ${name} did not start: ${readFileSync(`${exec}.log`, "utf8").split("\n").slice(-5).join("\n")}`);
}

function loadImages(socket: string, images: string[]): void {
  const r = spawnSync("sh", ["-c", `docker save ${images.join(" ")} | docker -H unix://${socket} load -q`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`loading ${images.join(", ")} into ${socket}: ${r.stderr}`);
}

async function formSwarm(nodes: SwarmNode[]): Promise<void> {
  const [manager, ...workers] = nodes;
  await manager.docker.swarmInit({ ListenAddr: `${manager.addr}:2377`, AdvertiseAddr: `${manager.addr}:2377`, DefaultAddrPool: [POOL], SubnetSize: 24 });
  const token = ((await manager.docker.swarmInspect()) as { JoinTokens: { Worker: string } }).JoinTokens.Worker;
  for (const w of workers) await w.docker.swarmJoin({ ListenAddr: `${w.addr}:2377`, AdvertiseAddr: `${w.addr}:2377`, RemoteAddrs: [`${manager.addr}:2377`], JoinToken: token });
  for (let i = 0; i < 100; i++) {
    const ready = ((await manager.docker.listNodes()) as { Status?: { State?: string } }[]).filter((n) => n.Status?.State === "ready").length;
    if (ready === nodes.length) return;
    await sleep(200);
  }
  throw new Error(`only some of ${nodes.length} nodes became ready`);
}

/** Everything one node leaves: its containers' processes, its mounts, its directories, its namespace. */
async function teardown(node: { name: string; docker: Docker; pid?: number }): Promise<void> {
  const { data, exec } = dirs(node.name);
  const containers = await node.docker.listContainers({ all: true }).catch(() => []);
  await Promise.all(containers.map((c) => node.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  await node.docker.swarmLeave({ force: true }).catch(() => undefined);
  if (node.pid) {
    quiet("kill", ["-TERM", String(node.pid)]);
    for (let i = 0; i < 100 && spawnSync("kill", ["-0", String(node.pid)]).status === 0; i++) await sleep(200);
    quiet("kill", ["-KILL", String(node.pid)]);
  }
  // A killed engine leaves its tasks' shims and processes behind.
  quiet("pkill", ["-KILL", "-f", `containerd-shim.*-address ${exec}/`]);
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(data) || m.startsWith(exec));
  for (const m of mounts.sort().reverse()) quiet("umount", ["-l", m]);
  rmSync(data, { recursive: true, force: true });
  rmSync(exec, { recursive: true, force: true });
  rmSync(`${exec}.log`, { force: true });
  quiet("ip", ["netns", "del", node.name]);
}

function requireTools(ctx: Mocha.Context): void {
  for (const t of ["ip", "nsenter", "unshare", "dockerd", "iptables"]) {
    if (spawnSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" }).status !== 0) missingPrerequisite(ctx, `${t} is not installed (needed for the multi-node swarm harness)`);
  }
  if (process.getuid?.() !== 0) missingPrerequisite(ctx, "the multi-node swarm harness needs root (network namespaces, dockerd)");
}

/** Starts `count` engines as nodes of one swarm; `images` are loaded into each from the host engine. */
export async function startSwarmNodes(ctx: Mocha.Context, count: number, images: string[]): Promise<SwarmNodes> {
  requireTools(ctx);
  const started: (SwarmNode & { pid: number })[] = [];
  const destroy = async (): Promise<void> => {
    for (const n of started.reverse()) await teardown(n);
    if (existsSync(`/sys/class/net/${BRIDGE}`)) {
      quiet("iptables", ["-D", "FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]);
      quiet("ip", ["link", "del", BRIDGE]);
    }
  };
  try {
    for (let i = 1; i <= count; i++) {
      // Short: the host end of its veth is `vh-<name>`, and interface names have 15 characters at most.
      const name = `bsw${process.pid % 10000}-${i}`;
      network(name, i);
      const node = await startEngine(name, `swnode${i}`);
      node.addr = `${NET}.${10 + i}`;
      started.push(node);
    }
    for (const n of started) loadImages(n.socket, images);
    await formSwarm(started);
  } catch (e) {
    await destroy();
    throw e;
  }
  const nodes = [...started];
  return {
    nodes,
    manager: nodes[0],
    killEngine: (i) => quiet("kill", ["-KILL", String(started[i].pid)]),
    destroy,
  };
}
