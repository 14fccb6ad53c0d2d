module meshtls.invalid/handshake-baseline

go 1.19
