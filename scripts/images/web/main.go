// kubeha-web: the workload of kubeha's smoke test, in an image with busybox's shell.
//
//	kubeha-web serve [ADDR]  HTTP on ADDR (default :8080). GET / answers "kubeha-web <hostname>",
//	                         the pod's name, so a client sees which replica answered; /healthz "ok".
//	kubeha-web get URL       one GET of URL, its name resolved through /etc/resolv.conf as in any
//	                         pod; prints the body, exits 1 (saying why) unless the answer is 200.
//	kubeha-web lookup NAME   the addresses NAME resolves to, one per line; exits 1 when none.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

const version = "1.0"

func serve(addr string) error {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "kubeha-web", host) })
	server := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return server.ListenAndServe()
}

func get(url string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	os.Stdout.Write(body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

func lookup(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		fmt.Println(a)
	}
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) >= 2 && os.Args[1] == "serve":
		addr := ":8080"
		if len(os.Args) > 2 {
			addr = os.Args[2]
		}
		err = serve(addr)
	case len(os.Args) == 3 && os.Args[1] == "get":
		err = get(os.Args[2])
	case len(os.Args) == 3 && os.Args[1] == "lookup":
		err = lookup(os.Args[2])
	case len(os.Args) == 2 && os.Args[1] == "--version":
		fmt.Println("kubeha-web", version)
	default:
		err = fmt.Errorf("usage: kubeha-web serve [ADDR] | get URL | lookup NAME | --version")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeha-web:", err)
		os.Exit(1)
	}
}
