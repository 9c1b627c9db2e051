import { X509Certificate } from "node:crypto";
import tls from "node:tls";

/** The certificate Caddy serves for a host, as a TLS client sees it. */
export interface ServedCertificate {
  pem: string;
  issuer: string;
  subject: string;
  serialNumber: string;
  /** SHA-256 of the DER, lower-case hex without colons. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  /** Whether the certificate names the host (SAN), as a verifying client would check. */
  matchesHost: boolean;
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** The common name of an X.509 distinguished name in Node's multi-line form. */
function commonName(dn: string | undefined): string {
  if (!dn) return "";
  const cn = dn.split("\n").find((l) => l.startsWith("CN="));
  return cn ? cn.slice(3) : dn.replace(/\n/g, ", ");
}

/**
 * Reads the certificate served for `servername` by a TLS handshake with Caddy's HTTPS listener
 * (no verification: this observes what is served, whoever signed it). Undefined when Caddy has
 * none for the name yet (the handshake fails while issuance is in progress).
 */
export async function probeCertificate(address: string, port: number, servername: string, timeoutMs = 5000): Promise<ServedCertificate | undefined> {
  return await new Promise((resolve) => {
    const socket = tls.connect({ host: address, port, servername, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
    const done = (v: ServedCertificate | undefined): void => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once("error", () => done(undefined));
    socket.once("secureConnect", () => {
      try {
        done(describe(socket.getPeerCertificate(false)?.raw, servername));
      } catch {
        done(undefined);
      }
    });
  });
}

function describe(raw: Buffer | undefined, servername: string): ServedCertificate | undefined {
  if (!raw?.length) return undefined;
  const x = new X509Certificate(raw);
  return {
    pem: x.toString(),
    issuer: commonName(x.issuer),
    subject: commonName(x.subject) || x.subjectAltName || "",
    serialNumber: x.serialNumber.toLowerCase(),
    fingerprint: x.fingerprint256.replace(/:/g, "").toLowerCase(),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    matchesHost: x.checkHost(servername) !== undefined,
  };
}

/** Caddy's local CA names its intermediates "Caddy Local Authority - …". */
export function issuedByCaddyLocalCa(c: ServedCertificate): boolean {
  return /^Caddy Local Authority\b/.test(c.issuer);
}

/** What the Domain's status shows of its certificate. */
export function certificateStatus(c: ServedCertificate, issuerType: string): Record<string, unknown> {
  return { issuer: c.issuer, issuerType, serialNumber: c.serialNumber, fingerprint: c.fingerprint, notBefore: iso(c.notBefore), notAfter: iso(c.notAfter) };
}
