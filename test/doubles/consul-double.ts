// A loopback Consul (1.x) agent + catalog that speaks enough of the HTTP API for
// Vigil's discovery and self-registration:
//   GET /v1/health/service/:service   passing, tag (repeatable), dc; blocking
//                                     queries (index, wait, wait/16 jitter) woken
//                                     by any change to that service's instances
//                                     or checks; X-Consul-Index, -KnownLeader,
//                                     -LastContact, -Query-Backend
//   PUT /v1/agent/service/register    Check / Checks (HTTP, TTL), initial Status,
//                                     DeregisterCriticalServiceAfter
//   PUT /v1/agent/service/deregister/:id
//   PUT /v1/agent/check/{pass,warn,fail}/:id, /v1/agent/check/update/:id
//   GET /v1/status/leader
// HTTP checks are really run (GET at Interval; 2xx passing, 429 warning, else
// critical), TTL checks expire to critical. ACLs: with `acl`, a request's token
// (X-Consul-Token, Authorization: Bearer, ?token=) must be known ("ACL not
// found", 403), writes need a write token ("Permission denied", 403), and reads
// without a read token are filtered to nothing (X-Consul-Results-Filtered-By-ACLs).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";

export type CheckStatus = "passing" | "warning" | "critical";

export interface ConsulDoubleOptions {
  datacenter?: string;
  /** Name and address of the node services register on (the double is that node's agent). */
  nodeName?: string;
  nodeAddress?: string;
  /** Enables ACLs with default policy deny: token secret → what it may do. */
  acl?: { tokens: Record<string, "read" | "write"> };
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

interface DoubleNode {
  id: string;
  name: string;
  address: string;
  createIndex: number;
  modifyIndex: number;
}

interface DoubleService {
  id: string;
  name: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
  node: string;
  createIndex: number;
  modifyIndex: number;
}

interface DoubleCheck {
  checkId: string;
  name: string;
  node: string;
  serviceId: string;
  serviceName: string;
  status: CheckStatus;
  output: string;
  type: "http" | "ttl" | "serf";
  http?: string;
  method?: string;
  intervalMs?: number;
  timeoutMs?: number;
  ttlMs?: number;
  deregisterAfterMs?: number;
  criticalSince?: number;
  /** A test pinned this status: the check's own runs do not change it. */
  pinned: boolean;
  timer?: NodeJS.Timeout;
  createIndex: number;
  modifyIndex: number;
}

interface Waiter {
  service: string;
  /** Answers only once the service's index passes this (Consul re-checks after every change). */
  minIndex: number;
  wake: () => void;
}

export interface RecordedConsulRequest {
  method: string;
  path: string;
  query: Record<string, string[]>;
  token: string | undefined;
}

const MAX_WAIT_MS = 10 * 60_000;
const DEFAULT_WAIT_MS = 5 * 60_000;

/** Go-style duration ("10s", "1m30s", "250ms") in ms; undefined when malformed. */
export function parseGoDuration(value: string): number | undefined {
  if (value === "0") return 0;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let match = pattern.exec(value); match; match = pattern.exec(value)) {
    total += Number(match[1]) * (units[match[2]] ?? 0);
    matched = pattern.lastIndex;
  }
  return matched === value.length && matched > 0 ? total : undefined;
}

export class ConsulDouble {
  readonly requests: RecordedConsulRequest[] = [];
  readonly counters = { healthQueries: 0, blockedQueries: 0, httpCheckRuns: 0 };

  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly nodes = new Map<string, DoubleNode>();
  private readonly services = new Map<string, DoubleService>();
  private readonly checks = new Map<string, DoubleCheck>();
  /** Per service name: the raft index of its last change (X-Consul-Index). */
  private readonly serviceIndex = new Map<string, number>();
  private waiters: Waiter[] = [];
  private raftIndex = 10;
  private faults: Array<{ status: number; body: string }> = [];
  private indexOverride: Array<number> = [];
  private port = 0;
  private listening = false;
  private readonly datacenter: string;
  private readonly localNode: string;

  private constructor(private readonly options: ConsulDoubleOptions) {
    this.datacenter = options.datacenter ?? "dc1";
    this.localNode = options.nodeName ?? "node-1";
    this.addNode(this.localNode, options.nodeAddress ?? "127.0.0.1");
    const handler = (request: IncomingMessage, response: ServerResponse) => {
      this.handle(request, response).catch((error: unknown) => {
        send(response, 500, String(error));
      });
    };
    this.server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  static async start(options: ConsulDoubleOptions = {}): Promise<ConsulDouble> {
    const double = new ConsulDouble(options);
    await double.listen(0);
    return double;
  }

  get url(): string {
    return `${this.options.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  // ---- state knobs --------------------------------------------------------

  /** A catalog node (with its serfHealth check, passing). */
  addNode(name: string, address: string): void {
    const index = this.bump();
    this.nodes.set(name, {
      id: `00000000-0000-0000-0000-${String(this.nodes.size + 1).padStart(12, "0")}`,
      name,
      address,
      createIndex: index,
      modifyIndex: index,
    });
    this.checks.set(`${name}/serfHealth`, {
      checkId: "serfHealth",
      name: "Serf Health Status",
      node: name,
      serviceId: "",
      serviceName: "",
      status: "passing",
      output: "Agent alive and reachable",
      type: "serf",
      pinned: true,
      createIndex: index,
      modifyIndex: index,
    });
  }

  /** Registers a service instance directly (as another node's agent would), with one TTL-less check. */
  registerOn(
    node: string,
    service: {
      id: string;
      name: string;
      port: number;
      address?: string;
      tags?: string[];
      status?: CheckStatus;
    },
  ): void {
    this.putService(node, {
      ID: service.id,
      Name: service.name,
      Port: service.port,
      Address: service.address,
      Tags: service.tags,
      Check: { TTL: "24h", Status: service.status ?? "passing" },
    });
  }

  /** Pins every check of a service instance to `status` (the check's own runs no longer change it). */
  setServiceHealth(serviceId: string, status: CheckStatus, output = "set by test"): void {
    let found = false;
    for (const check of this.checks.values()) {
      if (check.serviceId !== serviceId) continue;
      found = true;
      check.pinned = true;
      this.setCheck(check, status, output);
    }
    if (!found) throw new Error(`consul-double: no checks for service ${serviceId}`);
  }

  /** Hands a service's checks back to their own runs (HTTP polling, TTL). */
  unpinServiceHealth(serviceId: string): void {
    for (const check of this.checks.values()) if (check.serviceId === serviceId) check.pinned = false;
  }

  /** A node's serfHealth (a failed node fails every instance on it). */
  setNodeHealth(node: string, status: CheckStatus): void {
    const check = this.checks.get(`${node}/serfHealth`);
    if (!check) throw new Error(`consul-double: no node ${node}`);
    this.setCheck(
      check,
      status,
      status === "passing" ? "Agent alive and reachable" : "Agent not live or unreachable",
    );
  }

  deregister(serviceId: string): boolean {
    return this.removeService(serviceId);
  }

  /** The next `count` requests answer `status` with `body` (500 "rpc error" by default). */
  failNextRequests(count: number, status = 500, body = "rpc error making call: No cluster leader"): void {
    for (let i = 0; i < count; i++) this.faults.push({ status, body });
  }

  /** The next health answers carry these X-Consul-Index values instead of the real one (0, or lower: index resets). */
  overrideNextIndexes(...indexes: number[]): void {
    this.indexOverride.push(...indexes);
  }

  /** Instances as registered, with their checks' statuses. */
  instances(): Array<{ id: string; name: string; port: number; tags: string[]; status: CheckStatus }> {
    return [...this.services.values()].map((service) => ({
      id: service.id,
      name: service.name,
      port: service.port,
      tags: service.tags,
      status: this.aggregate(service),
    }));
  }

  /** A service instance's own checks as the agent holds them (TTL checks: what the service last reported). */
  checksOf(serviceId: string): Array<{ checkId: string; type: string; status: CheckStatus; output: string }> {
    return [...this.checks.values()]
      .filter((check) => check.serviceId === serviceId)
      .map(({ checkId, type, status, output }) => ({ checkId, type, status, output }));
  }

  /** Blocking queries currently held. */
  heldQueries(): number {
    return this.waiters.length;
  }

  async stop(): Promise<void> {
    for (const check of this.checks.values()) clearTimeout(check.timer);
    for (const waiter of this.waiters) waiter.wake();
    this.waiters = [];
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  // ---- HTTP ---------------------------------------------------------------

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.port = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<undefined> {
    const url = new URL(request.url ?? "/", "http://consul");
    const query: Record<string, string[]> = {};
    for (const [key, value] of url.searchParams) {
      query[key] = [...(query[key] ?? []), value];
    }
    const token = tokenOf(request, url);
    this.requests.push({ method: request.method ?? "", path: url.pathname, query, token });
    const body = await readBody(request);
    const fault = this.faults.shift();
    if (fault) return send(response, fault.status, fault.body);

    const path = url.pathname;
    const method = request.method ?? "GET";
    const acl = this.options.acl;
    let role: "read" | "write" | "anonymous" = "write";
    if (acl) {
      if (token && !acl.tokens[token]) return send(response, 403, "ACL not found");
      role = token ? (acl.tokens[token] as "read" | "write") : "anonymous";
    }
    const writeOnly = (): boolean => {
      if (role === "write") return true;
      send(response, 403, `Permission denied: token lacks permission 'service:write'`);
      return false;
    };

    if (path.startsWith("/v1/health/service/")) {
      if (method !== "GET") return send(response, 405, `method ${method} not allowed`);
      return this.healthService(
        decodeURIComponent(path.slice("/v1/health/service/".length)),
        url,
        role === "anonymous",
        response,
      );
    }
    if (path === "/v1/status/leader") return sendJson(response, 200, "127.0.0.1:8300");
    if (path === "/v1/agent/service/register") {
      if (method !== "PUT") return send(response, 405, `method ${method} not allowed`);
      if (!writeOnly()) return;
      let definition: ServiceDefinition;
      try {
        definition = JSON.parse(body.toString("utf8") || "null");
      } catch (error) {
        return send(response, 400, `Request decode failed: ${(error as Error).message}`);
      }
      const problem = this.putService(this.localNode, definition);
      return problem ? send(response, 400, problem) : send(response, 200, "");
    }
    if (path.startsWith("/v1/agent/service/deregister/")) {
      if (method !== "PUT") return send(response, 405, `method ${method} not allowed`);
      if (!writeOnly()) return;
      const id = decodeURIComponent(path.slice("/v1/agent/service/deregister/".length));
      return this.removeService(id)
        ? send(response, 200, "")
        : send(
            response,
            404,
            `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
          );
    }
    const checkUpdate = /^\/v1\/agent\/check\/(pass|warn|fail|update)\/(.+)$/.exec(path);
    if (checkUpdate) {
      if (method !== "PUT") return send(response, 405, `method ${method} not allowed`);
      if (!writeOnly()) return;
      const check = this.checks.get(`${this.localNode}/${decodeURIComponent(checkUpdate[2])}`);
      if (!check) return send(response, 404, `Unknown check ID "${checkUpdate[2]}"`);
      if (check.type !== "ttl")
        return send(response, 500, `CheckID "${check.checkId}" does not have associated TTL`);
      let status: CheckStatus;
      let output = url.searchParams.get("note") ?? "";
      if (checkUpdate[1] === "update") {
        const update = JSON.parse(body.toString("utf8") || "{}") as { Status?: string; Output?: string };
        if (update.Status !== "passing" && update.Status !== "warning" && update.Status !== "critical") {
          return send(response, 400, `Invalid check status: "${update.Status ?? ""}"`);
        }
        status = update.Status;
        output = update.Output ?? "";
      } else {
        status = checkUpdate[1] === "pass" ? "passing" : checkUpdate[1] === "warn" ? "warning" : "critical";
      }
      // A status pinned by the test outlasts the service's own updates.
      if (!check.pinned) this.setCheck(check, status, output);
      this.armTtl(check);
      return send(response, 200, "");
    }
    return send(response, 404, "Not Found");
  }

  private healthService(name: string, url: URL, anonymous: boolean, response: ServerResponse): undefined {
    this.counters.healthQueries++;
    const dc = url.searchParams.get("dc");
    if (dc && dc !== this.datacenter) return send(response, 500, "No path to datacenter");
    const minIndex = Number(url.searchParams.get("index") ?? "0");
    const waitParam = url.searchParams.get("wait");
    let waitMs = DEFAULT_WAIT_MS;
    if (waitParam !== null) {
      const parsed = parseGoDuration(waitParam);
      if (parsed === undefined) return send(response, 400, `Invalid wait time`);
      waitMs = Math.min(parsed, MAX_WAIT_MS);
    }
    if (!Number.isFinite(minIndex) || minIndex < 0) return send(response, 400, "Invalid index");
    const answer = () => {
      if (response.destroyed) return;
      const passing = url.searchParams.has("passing") && url.searchParams.get("passing") !== "false";
      const tags = url.searchParams.getAll("tag");
      const entries = anonymous ? [] : this.entries(name, passing, tags);
      const override = this.indexOverride.shift();
      const index = override ?? this.indexOf(name);
      const headers: Record<string, string> = {
        "X-Consul-Index": String(index),
        "X-Consul-KnownLeader": "true",
        "X-Consul-LastContact": "0",
        "X-Consul-Query-Backend": "blocking-query",
        "X-Consul-Effective-Consistency": "leader",
      };
      if (this.options.acl) headers["X-Consul-Default-ACL-Policy"] = "deny";
      if (anonymous) headers["X-Consul-Results-Filtered-By-ACLs"] = "true";
      sendJson(response, 200, entries, headers);
    };
    if (minIndex > 0 && this.indexOf(name) <= minIndex) {
      this.counters.blockedQueries++;
      // Consul adds up to wait/16 so concurrent waiters do not all wake together.
      const timeout = waitMs + Math.floor((Math.random() * waitMs) / 16);
      const waiter: Waiter = {
        service: name,
        minIndex,
        wake: () => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((other) => other !== waiter);
          answer();
        },
      };
      const timer = setTimeout(() => waiter.wake(), timeout);
      response.on("close", () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((other) => other !== waiter);
      });
      this.waiters.push(waiter);
      return;
    }
    answer();
  }

  private entries(name: string, passing: boolean, tags: string[]) {
    const result = [];
    for (const service of this.services.values()) {
      if (service.name !== name) continue;
      if (!tags.every((tag) => service.tags.includes(tag))) continue;
      const node = this.nodes.get(service.node) as DoubleNode;
      const checks = [...this.checks.values()].filter(
        (check) => check.node === service.node && (check.serviceId === "" || check.serviceId === service.id),
      );
      if (passing && !checks.every((check) => check.status === "passing")) continue;
      result.push({
        Node: {
          ID: node.id,
          Node: node.name,
          Address: node.address,
          Datacenter: this.datacenter,
          TaggedAddresses: {
            lan: node.address,
            lan_ipv4: node.address,
            wan: node.address,
            wan_ipv4: node.address,
          },
          Meta: { "consul-network-segment": "" },
          CreateIndex: node.createIndex,
          ModifyIndex: node.modifyIndex,
        },
        Service: {
          ID: service.id,
          Service: service.name,
          Tags: service.tags,
          Address: service.address,
          Meta: service.meta,
          Port: service.port,
          Weights: { Passing: 1, Warning: 1 },
          EnableTagOverride: false,
          Proxy: { Mode: "", MeshGateway: {}, Expose: {} },
          Connect: {},
          PeerName: "",
          CreateIndex: service.createIndex,
          ModifyIndex: service.modifyIndex,
        },
        Checks: checks.map((check) => ({
          Node: check.node,
          CheckID: check.checkId,
          Name: check.name,
          Status: check.status,
          Notes: "",
          Output: check.output,
          ServiceID: check.serviceId,
          ServiceName: check.serviceName,
          ServiceTags: check.serviceId ? service.tags : [],
          Type: check.type === "serf" ? "" : check.type,
          Interval: check.intervalMs ? `${check.intervalMs / 1000}s` : "",
          Timeout: check.timeoutMs ? `${check.timeoutMs / 1000}s` : "",
          ExposedPort: 0,
          Definition: {},
          CreateIndex: check.createIndex,
          ModifyIndex: check.modifyIndex,
        })),
      });
    }
    return result;
  }

  // ---- catalog ------------------------------------------------------------

  private putService(node: string, definition: ServiceDefinition): string | undefined {
    if (!definition || typeof definition !== "object") return "Request decode failed: body is not an object";
    if (!definition.Name) return "Missing service name";
    const id = definition.ID || definition.Name;
    const checkDefs = [...(definition.Check ? [definition.Check] : []), ...(definition.Checks ?? [])];
    const parsed: DoubleCheck[] = [];
    for (const [position, check] of checkDefs.entries()) {
      const checkId =
        check.CheckID || (checkDefs.length === 1 ? `service:${id}` : `service:${id}:${position + 1}`);
      const base = {
        checkId,
        name: check.Name || `Service '${definition.Name}' check`,
        node,
        serviceId: id,
        serviceName: definition.Name,
        status: (check.Status as CheckStatus) || "critical",
        output: "",
        pinned: false,
        createIndex: 0,
        modifyIndex: 0,
        deregisterAfterMs: check.DeregisterCriticalServiceAfter
          ? parseGoDuration(check.DeregisterCriticalServiceAfter)
          : undefined,
      };
      if (check.HTTP) {
        const intervalMs = check.Interval ? parseGoDuration(check.Interval) : undefined;
        if (!intervalMs)
          return `Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks`;
        parsed.push({
          ...base,
          type: "http",
          http: check.HTTP,
          method: check.Method || "GET",
          intervalMs,
          timeoutMs: (check.Timeout ? parseGoDuration(check.Timeout) : undefined) ?? 10_000,
        });
      } else if (check.TTL) {
        const ttlMs = parseGoDuration(check.TTL);
        if (!ttlMs) return `Invalid check: TTL must be > 0 for TTL checks`;
        parsed.push({ ...base, type: "ttl", ttlMs });
      } else {
        return "Invalid check: TTL or Script/Interval or HTTP/Interval or TCP/Interval needs to be provided";
      }
    }
    const index = this.bump();
    const previous = this.services.get(id);
    this.services.set(id, {
      id,
      name: definition.Name,
      tags: definition.Tags ?? [],
      address: definition.Address ?? "",
      port: definition.Port ?? 0,
      meta: definition.Meta ?? {},
      node,
      createIndex: previous?.createIndex ?? index,
      modifyIndex: index,
    });
    for (const [key, check] of this.checks) {
      if (check.serviceId === id) {
        clearTimeout(check.timer);
        this.checks.delete(key);
      }
    }
    for (const check of parsed) {
      check.createIndex = index;
      check.modifyIndex = index;
      if (check.status === "critical") check.criticalSince = Date.now();
      this.checks.set(`${node}/${check.checkId}`, check);
      if (check.type === "http") this.scheduleHttp(check, 0);
      if (check.type === "ttl") this.armTtl(check);
    }
    if (previous && previous.name !== definition.Name) this.touch(previous.name, index);
    this.touch(definition.Name, index);
    return undefined;
  }

  private removeService(id: string): boolean {
    const service = this.services.get(id);
    if (!service) return false;
    this.services.delete(id);
    for (const [key, check] of this.checks) {
      if (check.serviceId === id) {
        clearTimeout(check.timer);
        this.checks.delete(key);
      }
    }
    this.touch(service.name, this.bump());
    return true;
  }

  private setCheck(check: DoubleCheck, status: CheckStatus, output: string): void {
    if (check.status === status && check.output === output) return;
    if (status === "critical" && check.status !== "critical") check.criticalSince = Date.now();
    if (status !== "critical") check.criticalSince = undefined;
    check.status = status;
    check.output = output;
    const index = this.bump();
    check.modifyIndex = index;
    if (check.serviceName) {
      this.touch(check.serviceName, index);
    } else {
      // A node check changes every service on the node.
      for (const service of this.services.values())
        if (service.node === check.node) this.touch(service.name, index);
      const node = this.nodes.get(check.node);
      if (node) node.modifyIndex = index;
    }
  }

  private scheduleHttp(check: DoubleCheck, delayMs: number): void {
    clearTimeout(check.timer);
    check.timer = setTimeout(() => void this.runHttp(check), delayMs);
    check.timer.unref();
  }

  private async runHttp(check: DoubleCheck): Promise<void> {
    if (!this.checks.has(`${check.node}/${check.checkId}`)) return;
    this.counters.httpCheckRuns++;
    let status: CheckStatus;
    let output: string;
    try {
      const response = await fetch(check.http as string, {
        method: check.method,
        signal: AbortSignal.timeout(check.timeoutMs ?? 10_000),
      });
      const text = await response.text();
      status = response.ok ? "passing" : response.status === 429 ? "warning" : "critical";
      output = `HTTP ${check.method} ${check.http}: ${response.status} Output: ${text.slice(0, 200)}`;
    } catch (error) {
      status = "critical";
      output = `Get "${check.http}": ${(error as Error).message}`;
    }
    if (!this.checks.has(`${check.node}/${check.checkId}`)) return;
    if (!check.pinned) this.setCheck(check, status, output);
    this.reapIfCritical(check);
    if (this.checks.has(`${check.node}/${check.checkId}`))
      this.scheduleHttp(check, check.intervalMs ?? 10_000);
  }

  private armTtl(check: DoubleCheck): void {
    clearTimeout(check.timer);
    check.timer = setTimeout(() => {
      if (!check.pinned) this.setCheck(check, "critical", "TTL expired");
      this.reapIfCritical(check);
    }, check.ttlMs);
    check.timer.unref();
  }

  private reapIfCritical(check: DoubleCheck): void {
    if (check.deregisterAfterMs === undefined || check.criticalSince === undefined) return;
    if (Date.now() - check.criticalSince >= check.deregisterAfterMs) this.removeService(check.serviceId);
  }

  private aggregate(service: DoubleService): CheckStatus {
    let worst: CheckStatus = "passing";
    for (const check of this.checks.values()) {
      if (check.node !== service.node || (check.serviceId !== "" && check.serviceId !== service.id)) continue;
      if (check.status === "critical") return "critical";
      if (check.status === "warning") worst = "warning";
    }
    return worst;
  }

  private bump(): number {
    this.raftIndex += 1 + Math.floor(Math.random() * 3);
    return this.raftIndex;
  }

  private indexOf(name: string): number {
    // An unknown service answers with the catalog's current index, like Consul's services table.
    return this.serviceIndex.get(name) ?? this.raftIndex;
  }

  private touch(name: string, index: number): void {
    this.serviceIndex.set(name, index);
    for (const waiter of [...this.waiters]) {
      if (waiter.service === name && index > waiter.minIndex) waiter.wake();
    }
  }
}

interface CheckDefinition {
  CheckID?: string;
  Name?: string;
  HTTP?: string;
  Method?: string;
  Interval?: string;
  Timeout?: string;
  TTL?: string;
  Status?: string;
  DeregisterCriticalServiceAfter?: string;
}

interface ServiceDefinition {
  ID?: string;
  Name: string;
  Tags?: string[];
  Address?: string;
  Port?: number;
  Meta?: Record<string, string>;
  Check?: CheckDefinition;
  Checks?: CheckDefinition[];
}

function tokenOf(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers["x-consul-token"];
  if (typeof header === "string" && header) return header;
  const authorization = request.headers.authorization;
  if (authorization?.startsWith("Bearer ")) return authorization.slice("Bearer ".length);
  return url.searchParams.get("token") ?? undefined;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

/** Consul answers errors as text/plain bodies. */
function send(response: ServerResponse, status: number, body: string): undefined {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  response.end(body);
}

function sendJson(
  response: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): undefined {
  if (response.headersSent || response.destroyed) return;
  const body = JSON.stringify(value);
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    Vary: "Accept-Encoding",
    ...headers,
  });
  response.end(body);
}
