import { ApiCallError, CommandError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { loadManifests, ManifestError, type ManifestDoc } from "../../schema/manifests.js";

/** The manifests of -f; a problem in any of them is the user's to fix, so it exits 1. */
export async function loadDocs(files: string[], io: Io): Promise<ManifestDoc[]> {
  try {
    return await loadManifests(files, io.readStdin);
  } catch (e) {
    if (e instanceof ManifestError) throw new CommandError(e.message);
    throw e;
  }
}

/** Maps a server error about batch item N back to the manifest's file:line and field. */
export function explainBatchError(e: ApiCallError, docs: ManifestDoc[]): string {
  const causes = e.status.details?.causes ?? [];
  const lines = causes.map((c) => {
    const m = /^items\[(\d+)\]\.?(.*)$/.exec(c.field ?? "");
    const doc = m ? docs[Number(m[1])] : undefined;
    if (!doc) return `error: ${c.field ?? ""}: ${c.message ?? e.message}`;
    const field = m![2];
    return `${doc.file}:${doc.lineOf(field)}: ${field ? field + ": " : ""}${stripIndexPrefix(c.message ?? e.message)}`;
  });
  return lines.length ? lines.join("\n") : `error: ${e.message}`;
}

function stripIndexPrefix(message: string): string {
  return message.replace(/^items\[\d+\]: /, "");
}
