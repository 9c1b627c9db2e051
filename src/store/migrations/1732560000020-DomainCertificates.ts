import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Certificates as the Domain controller observes them: Caddy obtains and renews certificates and
 * keeps their private keys in its own storage, so Berth records what is served (the PEM, issuer,
 * validity, serial and SHA-256 fingerprint, one row per certificate and Domain) and holds no key:
 * `private_key` becomes nullable (it stays encrypted when Berth ever does hold one).
 */
export class DomainCertificates1732560000020 implements MigrationInterface {
  name = "DomainCertificates1732560000020";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE certificates
      ALTER COLUMN private_key DROP NOT NULL,
      ADD COLUMN not_before timestamptz,
      ADD COLUMN serial_number varchar(128),
      ADD COLUMN fingerprint varchar(64),
      ADD COLUMN last_seen_at timestamptz,
      ADD CONSTRAINT uq_certificates_domain_fingerprint UNIQUE (domain_id, fingerprint)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    // Observed rows carry no key and cannot satisfy the old NOT NULL; they are observations only.
    await q.query(`DELETE FROM certificates WHERE private_key IS NULL`);
    await q.query(`ALTER TABLE certificates
      DROP CONSTRAINT uq_certificates_domain_fingerprint,
      DROP COLUMN last_seen_at,
      DROP COLUMN fingerprint,
      DROP COLUMN serial_number,
      DROP COLUMN not_before,
      ALTER COLUMN private_key SET NOT NULL`);
  }
}
