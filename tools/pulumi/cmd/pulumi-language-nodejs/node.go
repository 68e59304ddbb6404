package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// findNode returns the Node.js binary for a program: the project's own node_modules/.bin/node
// (the `node` npm package pins Node 24) found by walking up from dir, else `node` on PATH.
func findNode(dir string) (string, error) {
	for d := dir; d != ""; {
		candidate := filepath.Join(d, "node_modules", ".bin", "node")
		if info, err := os.Stat(candidate); err == nil && !info.IsDir() {
			return candidate, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	path, err := exec.LookPath("node")
	if err != nil {
		return "", errors.New("no Node.js found: run `npm install` in the project (it installs Node 24) or put node on PATH")
	}
	return path, nil
}

// resolveModule asks Node where a module specifier resolves from dir, so the program runs with
// the @pulumi/pulumi it depends on.
func resolveModule(nodeBin, dir, specifier string) (string, error) {
	cmd := exec.Command(nodeBin, "-e", "process.stdout.write(require.resolve(process.argv[1]))", specifier)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot resolve %s from %s (is @pulumi/pulumi installed? run `npm install`): %w",
			specifier, dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func nodeVersion(nodeBin string) string {
	out, err := exec.Command(nodeBin, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
}
