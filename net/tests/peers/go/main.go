// Go interop peer for the meshtls-net tests: crypto/tls with client auth.
// Same modes and output as peer.py (server, client).
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func pool(ca string) *x509.CertPool {
	pem, err := os.ReadFile(ca)
	if err != nil {
		fail(err)
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	return p
}

func fail(err error) {
	fmt.Println("ERR", strings.ReplaceAll(err.Error(), "\n", " "))
	os.Exit(1)
}

func uriOf(certs []*x509.Certificate) string {
	if len(certs) > 0 && len(certs[0].URIs) > 0 {
		return certs[0].URIs[0].String()
	}
	return "-"
}

func server(certFile, keyFile, ca string) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fail(err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool(ca),
		MinVersion:   tls.VersionTLS13,
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		fail(err)
	}
	fmt.Println("READY", ln.Addr().(*net.TCPAddr).Port)
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c *tls.Conn) {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := c.Handshake(); err != nil {
				fmt.Println("REJECT", strings.ReplaceAll(err.Error(), "\n", " "))
				return
			}
			fmt.Println("ACCEPT", uriOf(c.ConnectionState().PeerCertificates))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				fmt.Println("REJECT", err)
				return
			}
			c.Write([]byte("echo:" + line))
		}(conn.(*tls.Conn))
	}
}

func client(port, certFile, keyFile, ca string) {
	cfg := &tls.Config{RootCAs: pool(ca), ServerName: "localhost", MinVersion: tls.VersionTLS13}
	if certFile != "-" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			fail(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", "127.0.0.1:"+port, cfg)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		fail(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fail(err)
	}
	fmt.Println("OK", strings.TrimSpace(line), uriOf(c.ConnectionState().PeerCertificates))
}

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: peer server|client ..."))
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2], os.Args[3], os.Args[4])
	case "client":
		client(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	default:
		fail(fmt.Errorf("unknown mode %s", os.Args[1]))
	}
}
