import { randomInt } from "node:crypto";

/** Kubernetes' alphabet for generated suffixes: no vowels (no words), no look-alikes (0/o, 1/l, 3/e). */
const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const SUFFIX_LENGTH = 5;
/** A DNS-1123 label is at most 63 characters; the prefix is cut so the suffix always fits. */
const MAX_PREFIX_LENGTH = 63 - SUFFIX_LENGTH;

/** `metadata.generateName` + 5 random characters, as the Kubernetes API server names objects. */
export function generateName(prefix: string, random: (max: number) => number = randomInt): string {
  let suffix = "";
  for (let i = 0; i < SUFFIX_LENGTH; i++) suffix += SUFFIX_ALPHABET[random(SUFFIX_ALPHABET.length)];
  return prefix.slice(0, MAX_PREFIX_LENGTH) + suffix;
}
