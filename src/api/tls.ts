import { generateKeyPair } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type forgeModule from "node-forge";

type Forge = typeof forgeModule;
type KeyPair = { publicKey: forgeModule.pki.rsa.PublicKey; privateKey: forgeModule.pki.rsa.PrivateKey };

/** The CA and serving certificate `berth serve` creates in its data dir on first start. */
export interface ServingCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function newSerial(forge: Forge): string {
  return "01" + forge.util.bytesToHex(forge.random.getBytesSync(15));
}

/**
 * An RSA key from Node's native crypto, off the event loop: node-forge's own generator is
 * pure JavaScript, took about a second per key and left tens of megabytes of heap behind in
 * a process that then idles for days. forge only builds and signs the certificates.
 */
async function rsaKeys(forge: Forge): Promise<KeyPair> {
  const pems = await promisify(generateKeyPair)("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
  return { publicKey: forge.pki.publicKeyFromPem(pems.publicKey) as forgeModule.pki.rsa.PublicKey, privateKey: forge.pki.privateKeyFromPem(pems.privateKey) as forgeModule.pki.rsa.PrivateKey };
}

function makeCa(forge: Forge, keys: KeyPair): { cert: forgeModule.pki.Certificate; key: forgeModule.pki.rsa.PrivateKey } {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = newSerial(forge);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600_000);
  const attrs = [{ name: "commonName", value: "berth-ca" }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

interface Issued {
  cert: forgeModule.pki.Certificate;
  key: forgeModule.pki.rsa.PrivateKey;
}

function makeServing(forge: Forge, ca: Issued, keys: KeyPair, hosts: string[]): Issued {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = newSerial(forge);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 365 * 24 * 3600_000);
  cert.setSubject([{ name: "commonName", value: "berth-apiserver" }]);
  cert.setIssuer(ca.cert.subject.attributes);
  const altNames = hosts.map((h) => (/^[0-9.]+$/.test(h) || h.includes(":") ? { type: 7, ip: h } : { type: 2, value: h }));
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

interface CertFiles {
  ca: string;
  caKey: string;
  cert: string;
  key: string;
  hosts: string;
}

/** The CA's PEMs from disk, or a new CA (written to disk) when there is none. */
async function ensureCa(files: CertFiles, forge: () => Promise<Forge>): Promise<{ caPem: string; caKeyPem: string }> {
  if (existsSync(files.ca) && existsSync(files.caKey)) return { caPem: readFileSync(files.ca, "utf8"), caKeyPem: readFileSync(files.caKey, "utf8") };
  const f = await forge();
  const ca = makeCa(f, await rsaKeys(f));
  const caPem = f.pki.certificateToPem(ca.cert);
  const caKeyPem = f.pki.privateKeyToPem(ca.key);
  writeFileSync(files.caKey, caKeyPem, { mode: 0o600 });
  writeFileSync(files.ca, caPem);
  return { caPem, caKeyPem };
}

/**
 * Loads the CA and serving certificate from `<dataDir>/tls`, creating them on first start.
 * node-forge is loaded only then: a second start reads PEM files and never pays for it.
 */
export async function ensureServingCerts(tlsDir: string, hosts: string[]): Promise<ServingCerts> {
  const files: CertFiles = { ca: path.join(tlsDir, "ca.crt"), caKey: path.join(tlsDir, "ca.key"), cert: path.join(tlsDir, "server.crt"), key: path.join(tlsDir, "server.key"), hosts: path.join(tlsDir, "hosts") };
  const wanted = [...new Set(hosts)].sort().join(",");
  const forge = async (): Promise<Forge> => (await import("node-forge")).default;
  const { caPem, caKeyPem } = await ensureCa(files, forge);
  const haveServing = existsSync(files.cert) && existsSync(files.key) && existsSync(files.hosts) && readFileSync(files.hosts, "utf8") === wanted;
  if (!haveServing) {
    const f = await forge();
    const ca = { cert: f.pki.certificateFromPem(caPem), key: f.pki.privateKeyFromPem(caKeyPem) as forgeModule.pki.rsa.PrivateKey };
    const serving = makeServing(f, ca, await rsaKeys(f), wanted.split(","));
    writeFileSync(files.key, f.pki.privateKeyToPem(serving.key), { mode: 0o600 });
    writeFileSync(files.cert, f.pki.certificateToPem(serving.cert));
    writeFileSync(files.hosts, wanted);
  }
  return { caPem, certPem: readFileSync(files.cert, "utf8"), keyPem: readFileSync(files.key, "utf8") };
}
