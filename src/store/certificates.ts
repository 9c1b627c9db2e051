import type { Sql } from "./sql.js";

/** A certificate as it was seen served (the private key stays with Caddy). */
export interface SeenCertificate {
  pem: string;
  issuer: string;
  serialNumber: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

/** The certificates table. */
export class CertificateStore {
  constructor(private readonly sql: Sql) {}

  /**
   * One `certificates` row per certificate a Domain has been seen serving (by fingerprint), with
   * its issuer and validity; renewals add rows. The private key stays with Caddy (its storage),
   * so `private_key` is NULL: Berth never holds it. Returns true when the row is new.
   */
  async record(domainId: string, c: SeenCertificate): Promise<boolean> {
    if (c.notAfter.getTime() <= Date.now()) return false; // an expired one cannot satisfy expires_at > created_at
    const rows: { inserted: boolean }[] = await this.sql.query(
      `INSERT INTO certificates (domain_id, issuer, certificate, private_key, expires_at, not_before, serial_number, fingerprint, last_seen_at)
       VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, now())
       ON CONFLICT (domain_id, fingerprint) DO UPDATE SET last_seen_at = now()
       RETURNING (xmax = 0) AS inserted`,
      [domainId, c.issuer.slice(0, 255), c.pem, c.notAfter, c.notBefore, c.serialNumber.slice(0, 128), c.fingerprint],
    );
    return !!rows[0]?.inserted;
  }
}
