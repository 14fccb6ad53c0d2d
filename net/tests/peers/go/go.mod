module meshtls.invalid/interop-peer

go 1.19
