import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import forge from "node-forge";

/** The CA and serving certificate `berth serve` creates in its data dir on first start. */
export interface ServingCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function newSerial(): string {
  return "01" + forge.util.bytesToHex(forge.random.getBytesSync(15));
}

function makeCa(): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = newSerial();
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

function makeServing(ca: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }, hosts: string[]): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = newSerial();
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

/**
 * Loads the CA and serving certificate from `<dataDir>/tls`, creating them on first start.
 * Key generation takes ~1 s, so it happens once per data dir, not per start.
 */
export function ensureServingCerts(tlsDir: string, hosts: string[]): ServingCerts {
  const files = { ca: path.join(tlsDir, "ca.crt"), caKey: path.join(tlsDir, "ca.key"), cert: path.join(tlsDir, "server.crt"), key: path.join(tlsDir, "server.key"), hosts: path.join(tlsDir, "hosts") };
  const wanted = [...new Set(hosts)].sort().join(",");
  let caPem: string;
  let caKeyPem: string;
  if (existsSync(files.ca) && existsSync(files.caKey)) {
    caPem = readFileSync(files.ca, "utf8");
    caKeyPem = readFileSync(files.caKey, "utf8");
  } else {
    const ca = makeCa();
    caPem = forge.pki.certificateToPem(ca.cert);
    caKeyPem = forge.pki.privateKeyToPem(ca.key);
    writeFileSync(files.caKey, caKeyPem, { mode: 0o600 });
    writeFileSync(files.ca, caPem);
  }
  const haveServing = existsSync(files.cert) && existsSync(files.key) && existsSync(files.hosts) && readFileSync(files.hosts, "utf8") === wanted;
  if (!haveServing) {
    const ca = { cert: forge.pki.certificateFromPem(caPem), key: forge.pki.privateKeyFromPem(caKeyPem) as forge.pki.rsa.PrivateKey };
    const serving = makeServing(ca, wanted.split(","));
    writeFileSync(files.key, forge.pki.privateKeyToPem(serving.key), { mode: 0o600 });
    writeFileSync(files.cert, forge.pki.certificateToPem(serving.cert));
    writeFileSync(files.hosts, wanted);
  }
  return { caPem, certPem: readFileSync(files.cert, "utf8"), keyPem: readFileSync(files.key, "utf8") };
}
