package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// The @pulumi/pulumi entry point that connects a program to the engine's resource monitor.
	runModule = "@pulumi/pulumi/cmd/run"
	// @pulumi/pulumi exits with this code after it has already shown the user a clear error.
	exitAfterUserActionableMessage = 32
)

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
}

func newLanguageHost(engineAddress, tracing string) *languageHost {
	return &languageHost{engineAddress: engineAddress, tracing: tracing}
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// Plugins are never installed on demand here (the machine has no plugin download sites): the
// dynamic-provider plugin is found on PATH, so a program needs nothing announced in advance.
func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *languageHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// Dependencies are installed by the project's set-up (npm ci), not by the engine.
func (h *languageHost) InstallDependencies(
	_ *pulumirpc.InstallDependenciesRequest, stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return stream.Send(&pulumirpc.InstallDependenciesResponse{
		Stdout: []byte("Node.js dependencies are installed by `npm ci` (scripts/setup.sh); nothing to do.\n"),
	})
}

func (h *languageHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *languageHost) Template(context.Context, *pulumirpc.TemplateRequest) (*pulumirpc.TemplateResponse, error) {
	return &pulumirpc.TemplateResponse{}, nil
}

func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (h *languageHost) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodeBin, err := findNode(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: nodeBin, Version: nodeVersion(nodeBin)}, nil
}

// GetProgramDependencies lists the program's package.json dependencies with installed versions.
func (h *languageHost) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	root, manifest, err := findPackageJSON(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(manifest.Dependencies)+len(manifest.DevDependencies))
	for name := range manifest.Dependencies {
		names = append(names, name)
	}
	if req.GetTransitiveDependencies() {
		for name := range manifest.DevDependencies {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	deps := make([]*pulumirpc.DependencyInfo, 0, len(names))
	for _, name := range names {
		installed, err := readPackageJSON(filepath.Join(root, "node_modules", name, "package.json"))
		if err != nil {
			continue // declared but not installed: nothing to report
		}
		deps = append(deps, &pulumirpc.DependencyInfo{Name: name, Version: installed.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// Run executes the program with @pulumi/pulumi's runner on the project's Node.js. The runner
// imports the entry point; for a "type": "module" package a .ts entry point is loaded by Node's
// own type stripping.
func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	workDir := req.GetPwd()
	if workDir == "" {
		workDir = programDir
	}

	nodeBin, err := findNode(programDir)
	if err != nil {
		return nil, err
	}
	runPath, err := resolveModule(nodeBin, programDir, runModule)
	if err != nil {
		return nil, err
	}

	args := nodeArgs(info.GetOptions().AsMap())
	args = append(args, runPath)
	args = append(args, h.runnerFlags(req, workDir)...)
	args = append(args, entryPoint(programDir, info.GetEntryPoint()))
	args = append(args, req.GetArgs()...)

	env, err := configEnv(req)
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Dir = workDir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitAfterUserActionableMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run %s): %v",
			nodeBin, err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// runnerFlags are the command-line flags @pulumi/pulumi/cmd/run understands.
func (h *languageHost) runnerFlags(req *pulumirpc.RunRequest, workDir string) []string {
	flags := []string{
		"--monitor=" + req.GetMonitorAddress(),
		"--engine=" + h.engineAddress,
		"--project=" + req.GetProject(),
		"--stack=" + req.GetStack(),
		"--pwd=" + workDir,
	}
	if org := req.GetOrganization(); org != "" {
		flags = append(flags, "--organization="+org)
	}
	if root := req.GetInfo().GetRootDirectory(); root != "" {
		flags = append(flags, "--root-directory="+root)
	}
	if req.GetParallel() > 0 {
		flags = append(flags, "--parallel="+strconv.Itoa(int(req.GetParallel())))
	}
	if req.GetDryRun() {
		flags = append(flags, "--dry-run")
	}
	if h.tracing != "" {
		flags = append(flags, "--tracing="+h.tracing)
	}
	return flags
}

// entryPoint gives the runner an absolute path, or "." to let it use package.json's entry.
func entryPoint(programDir, entry string) string {
	if entry == "" || entry == "." {
		return "."
	}
	if filepath.IsAbs(entry) {
		return entry
	}
	return filepath.Join(programDir, entry)
}

// nodeArgs reads the `nodeargs` runtime option of Pulumi.yaml (space-separated Node.js flags).
func nodeArgs(options map[string]any) []string {
	raw, ok := options["nodeargs"].(string)
	if !ok {
		return nil
	}
	return strings.Fields(raw)
}

// configEnv passes stack configuration the way @pulumi/pulumi reads it: JSON in the environment.
func configEnv(req *pulumirpc.RunRequest) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretsJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	return []string{
		"PULUMI_CONFIG=" + string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS=" + string(secretsJSON),
	}, nil
}

type packageManifest struct {
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
}

func readPackageJSON(path string) (*packageManifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var manifest packageManifest
	if err := json.Unmarshal(data, &manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &manifest, nil
}

// findPackageJSON walks up from dir to the nearest package.json.
func findPackageJSON(dir string) (string, *packageManifest, error) {
	for d := dir; ; {
		manifest, err := readPackageJSON(filepath.Join(d, "package.json"))
		if err == nil {
			return d, manifest, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", nil, err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", nil, fmt.Errorf("no package.json found above %s", dir)
		}
		d = parent
	}
}
