import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  dir: string;
  caFile: string;
  /** Server certificate for 127.0.0.1 / localhost, signed by caFile. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Client certificate (mTLS), signed by caFile. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed nothing here: the server's certificate does not verify against it. */
  otherCaFile: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function newCa(dir: string, name: string): void {
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`]);
  openssl(dir, [
    ...["req", "-x509", "-new", "-key", `${name}.key`, "-sha256", "-days", "2"],
    ...["-subj", `/CN=${name}`, "-out", `${name}.pem`],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
}

function newLeaf(dir: string, name: string, ca: string, extensions: string): void {
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`]);
  openssl(dir, ["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`],
    ...["-CAcreateserial", "-days", "2", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.pem`],
  ]);
  chmodSync(join(dir, `${name}.key`), 0o600);
}

/** A throwaway CA with a server and a client certificate (openssl CLI, EC P-256), plus an unrelated CA. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "vigil-pki-"));
  newCa(dir, "ca");
  newCa(dir, "other-ca");
  newLeaf(dir, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  newLeaf(dir, "agent", "ca", "extendedKeyUsage=clientAuth\n");
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    serverCertFile: join(dir, "server.pem"),
    serverKeyFile: join(dir, "server.key"),
    clientCertFile: join(dir, "agent.pem"),
    clientKeyFile: join(dir, "agent.key"),
    otherCaFile: join(dir, "other-ca.pem"),
  };
}
