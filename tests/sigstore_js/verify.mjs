// Checks one Sigstore bundle with sigstore-js, as a consumer who holds only
// the public key would (tests/test_sigstore_bundles.py, docs/provenance.md):
//
//   node verify.mjs BUNDLE PUBLIC_KEY_PEM [ARTIFACT]
//
// The key is the only trust material: no certificate authority, no
// transparency log, no timestamp authority, and every threshold at 0. The
// key is found by the bundle's hint, the hex SHA-256 of the key's
// SubjectPublicKeyInfo DER. ARTIFACT is the signed file of a
// messageSignature bundle (a DSSE bundle carries its payload). Exit 0 and
// one JSON line when the bundle verifies; exit 1 and sigstore-js's error.
import { readFileSync } from 'node:fs';
import { createHash, createPublicKey } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const [bundlePath, keyPath, artifactPath] = process.argv.slice(2);
if (!bundlePath || !keyPath) {
  console.error('usage: node verify.mjs BUNDLE PUBLIC_KEY_PEM [ARTIFACT]');
  process.exit(2);
}
try {
  const bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
  const spki = createPublicKey(readFileSync(keyPath)).export({ type: 'spki', format: 'der' });
  const keyid = createHash('sha256').update(spki).digest('hex');
  const noAuthorities = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  const trust = toTrustMaterial(noAuthorities, { [keyid]: { rawBytes: spki } });
  const artifact = artifactPath ? readFileSync(artifactPath) : undefined;
  const verifier = new Verifier(trust, {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  verifier.verify(toSignedEntity(bundle, artifact));
  console.log(JSON.stringify({ verified: true, keyid, content: bundle.content.$case }));
} catch (error) {
  console.error(`${error.name}: ${error.code ?? ''} ${error.message}`);
  process.exit(1);
}
