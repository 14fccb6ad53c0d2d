// A Go net/http service on files that `meshtls agent` keeps current: the certificate and key
// are read per handshake (GetCertificate) and the CA bundle and CRL per client
// (GetConfigForClient), so a renewal or a new CRL applies to the next connection without a
// restart or a signal. Standard library only.
//
//	go build -o go-reload . && ./go-reload -dir /etc/meshtls -name go-svc -listen 127.0.0.1:8444
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", "/etc/meshtls", "the agent's directory: ca.pem, crl.pem, NAME/chain.pem, NAME/key.pem")
	name := flag.String("name", "go-svc", "this service's directory under -dir")
	listen := flag.String("listen", "127.0.0.1:8444", "address to listen on")
	flag.Parse()

	files := layout{
		chain: filepath.Join(*dir, *name, "chain.pem"),
		key:   filepath.Join(*dir, *name, "key.pem"),
		ca:    filepath.Join(*dir, "ca.pem"),
		crl:   filepath.Join(*dir, "crl.pem"),
	}
	base := &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: files.certificate,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return files.config()
		},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	server := &http.Server{
		TLSConfig:         base,
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer := r.TLS.PeerCertificates[0]
			id := ""
			if len(peer.URIs) == 1 {
				id = peer.URIs[0].String()
			}
			fmt.Fprintf(w, "hello %s\n", id)
		}),
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(server.ServeTLS(ln, "", ""))
}

type layout struct{ chain, key, ca, crl string }

// certificate reads the chain and key on every handshake. The agent writes the key first and
// the chain after it: a handshake that reads between the two sees a mismatch, and simply reads
// again.
func (l layout) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var c tls.Certificate
		if c, err = tls.LoadX509KeyPair(l.chain, l.key); err == nil {
			return &c, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// config is the per-client configuration: client certificates required, verified against
// the current bundle, and refused when the current CRL lists them (fail closed: no valid CRL,
// no client).
func (l layout) config() (*tls.Config, error) {
	caPEM, err := os.ReadFile(l.ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in " + l.ca)
	}
	cas, err := parseCerts(caPEM)
	if err != nil {
		return nil, err
	}
	crlPEM, err := os.ReadFile(l.crl)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      pool,
		GetCertificate: l.certificate,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return notRevoked(cs.PeerCertificates[0], cas, crlPEM)
		},
	}, nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// notRevoked checks the leaf against a CRL signed by its issuer that is still current.
func notRevoked(leaf *x509.Certificate, cas []*x509.Certificate, crlPEM []byte) error {
	for data := crlPEM; ; {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return errors.New("no current CRL from the certificate's issuer")
		}
		crl, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return err
		}
		for _, ca := range cas {
			if crl.CheckSignatureFrom(ca) != nil || string(ca.RawSubject) != string(leaf.RawIssuer) {
				continue
			}
			if time.Now().After(crl.NextUpdate) {
				return errors.New("the CRL is past its next update")
			}
			for _, r := range crl.RevokedCertificates {
				if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
					return fmt.Errorf("certificate %x is revoked", leaf.SerialNumber)
				}
			}
			return nil
		}
	}
}
