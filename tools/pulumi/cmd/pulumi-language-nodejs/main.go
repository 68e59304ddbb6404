// Command pulumi-language-nodejs is this project's language host for Pulumi programs written in
// TypeScript and run natively by Node.js 24 (type stripping, no ts-node, no build step).
//
// The engine starts it with optional logging/tracing flags followed by the engine's address, and
// reads the port of the gRPC server from the first line of stdout. See ../../README.md for why the
// project builds its own host instead of the upstream one.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

func main() {
	if err := serve(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

func serve(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("pulumi-language-nodejs", flag.ContinueOnError)
	// Flags the engine passes to every plugin; accepted so that parsing never fails on them.
	flags.Bool("logtostderr", false, "log to stderr (accepted for compatibility)")
	flags.Int("v", 0, "log verbosity (accepted for compatibility)")
	tracing := flags.String("tracing", "", "Zipkin-compatible tracing endpoint, passed on to the program")
	flags.String("root", "", "project root (accepted for compatibility; the engine sends it in Handshake)")
	flags.Bool("typescript", false, "ignored: TypeScript is run by Node's type stripping")
	if err := flags.Parse(args); err != nil {
		return err
	}
	engineAddress := ""
	if rest := flags.Args(); len(rest) > 0 {
		engineAddress = rest[len(rest)-1]
	}

	host := newLanguageHost(engineAddress, *tracing)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("could not start the language host gRPC server: %w", err)
	}
	// The engine reads exactly this line to find us.
	if _, err := fmt.Fprintf(stdout, "%d\n", handle.Port); err != nil {
		return err
	}
	if err := <-handle.Done; err != nil {
		return fmt.Errorf("language host gRPC server stopped: %w", err)
	}
	return nil
}
