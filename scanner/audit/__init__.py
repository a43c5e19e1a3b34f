"""The audit workflow beside the pipeline: what a reviewer does with a run.

suppressions (accepted findings, with an owner and an expiry), baseline (drift against an earlier run's
results.json), and the evidence bundle split by concern: keys (Ed25519 signing keys), canonical_tar (the
byte-exact archive), bundle (manifest, build, sign, export) and verify (every byte, and the results again
through the one pipeline, scanner.run.derive)."""
