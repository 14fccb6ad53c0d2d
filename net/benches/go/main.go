// Baseline for the handshake benches in net/benches.
//
// Default mode (net/benches/handshake.rs): Go crypto/tls mutual-TLS handshakes per second over
// loopback, server and clients in one process (as the Rust side does), TLS 1.3, client certs
// required and verified against the CA, the client's URI SAN checked against one SPIFFE ID
// (the Rust side's policy), a 1-byte echo after each handshake so both sides finished.
//
// -serve mode (net/benches/handshake_server.rs): the same server alone, on -addr, printing
// "listening <addr>" once bound and serving until killed; the client is another process.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	dir := flag.String("dir", ".", "directory with ca.pem server.pem server.key client.pem client.key")
	clientID := flag.String("client-id", "", "SPIFFE ID the server requires")
	duration := flag.Duration("duration", 5*time.Second, "measurement time")
	conc := flag.Int("conc", 4, "concurrent clients")
	resume := flag.Bool("resume", false, "resume sessions")
	serve := flag.Bool("serve", false, "only serve (the client is another process)")
	addrFlag := flag.String("addr", "127.0.0.1:0", "listen address in -serve mode")
	flag.Parse()

	caPEM, err := os.ReadFile(*dir + "/ca.pem")
	must(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	serverCert, err := tls.LoadX509KeyPair(*dir+"/server.pem", *dir+"/server.key")
	must(err)
	clientCert, err := tls.LoadX509KeyPair(*dir+"/client.pem", *dir+"/client.key")
	must(err)

	scfg := &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
		VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
			leaf := chains[0][0]
			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != *clientID {
				return errors.New("identity not allowed")
			}
			return nil
		},
	}
	listen := "127.0.0.1:0"
	if *serve {
		listen = *addrFlag
	}
	ln, err := tls.Listen("tcp", listen, scfg)
	must(err)
	echo := func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 1)
				if _, err := io.ReadFull(c, buf); err == nil {
					c.Write(buf)
				}
			}(c)
		}
	}
	if *serve {
		fmt.Printf("listening %s\n", ln.Addr().String())
		echo()
		return
	}
	go echo()

	ccfg := &tls.Config{
		Certificates: []tls.Certificate{clientCert},
		RootCAs:      pool,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS13,
	}
	if *resume {
		ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(256)
	}
	addr := ln.Addr().String()
	var count, resumed, failed int64
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := []byte{7}
			for time.Now().Before(deadline) {
				c, err := tls.Dial("tcp", addr, ccfg)
				if err != nil {
					atomic.AddInt64(&failed, 1)
					continue
				}
				_, err = c.Write(buf)
				if err == nil {
					_, err = io.ReadFull(c, buf)
				}
				if err != nil {
					atomic.AddInt64(&failed, 1)
				} else {
					atomic.AddInt64(&count, 1)
					if c.ConnectionState().DidResume {
						atomic.AddInt64(&resumed, 1)
					}
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	fmt.Printf("handshakes=%d resumed=%d failed=%d seconds=%.3f per_sec=%.1f\n",
		count, resumed, failed, elapsed, float64(count)/elapsed)
}
