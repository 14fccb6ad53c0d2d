module meshtls.example/go-reload

go 1.19
