/**
 * Reads basicConstraints and keyUsage from a certificate's DER with forge's ASN.1 parser only.
 * node:crypto's X509Certificate exposes the CA flag but not the path length or key usage, and forge's
 * certificate parser rejects non-RSA keys, which a foreign chain may well carry.
 */
import forge from 'node-forge';

export interface CaConstraints {
  readonly isCa: boolean;
  /** undefined when unlimited (absent). */
  readonly pathLen: number | undefined;
  /** undefined when the keyUsage extension is absent (any usage). */
  readonly keyCertSign: boolean | undefined;
  readonly digitalSignature: boolean | undefined;
}

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';

type Asn1 = forge.asn1.Asn1;

function children(node: Asn1): Asn1[] {
  return Array.isArray(node.value) ? node.value : [];
}

// The typings only know `strict`; forge also takes options, and BIT STRING contents must stay bytes.
const fromDer = forge.asn1.fromDer as unknown as (
  bytes: forge.util.ByteBuffer,
  options: { strict: boolean; decodeBitStrings: boolean },
) => Asn1;

function parse(bytes: string): Asn1 {
  return fromDer(forge.util.createBuffer(bytes), { strict: true, decodeBitStrings: false });
}

function bytesOf(node: Asn1 | undefined): string {
  return node !== undefined && typeof node.value === 'string' ? node.value : '';
}

export function readCaConstraints(der: Buffer): CaConstraints {
  const root = parse(der.toString('binary'));
  const tbs = children(root)[0];
  const extsWrapper = tbs === undefined ? undefined : children(tbs).find(
    (n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && n.type === 3,
  );
  const exts = extsWrapper === undefined ? [] : children(children(extsWrapper)[0] ?? ({ value: [] } as unknown as Asn1));
  let isCa = false;
  let pathLen: number | undefined;
  let keyCertSign: boolean | undefined;
  let digitalSignature: boolean | undefined;
  for (const ext of exts) {
    const parts = children(ext);
    const oid = forge.asn1.derToOid(forge.util.createBuffer(bytesOf(parts[0])));
    const value = parts[parts.length - 1];
    if (value === undefined) continue;
    const inner = parse(bytesOf(value));
    if (oid === OID_BASIC_CONSTRAINTS) {
      for (const field of children(inner)) {
        if (field.type === forge.asn1.Type.BOOLEAN) isCa = bytesOf(field).charCodeAt(0) !== 0;
        if (field.type === forge.asn1.Type.INTEGER) pathLen = forge.util.createBuffer(bytesOf(field)).getInt(bytesOf(field).length * 8);
      }
    } else if (oid === OID_KEY_USAGE) {
      // BIT STRING: first byte = unused bits, then bits MSB first: 0 digitalSignature ... 5 keyCertSign.
      const bits = bytesOf(inner);
      const first = bits.length > 1 ? bits.charCodeAt(1) : 0;
      digitalSignature = (first & 0x80) !== 0;
      keyCertSign = (first & 0x04) !== 0;
    }
  }
  return { isCa, pathLen, keyCertSign, digitalSignature };
}
