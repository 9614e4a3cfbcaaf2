// Command bridge benchmarks Python blueprints rendered through the Python
// bridge against Go blueprints: it builds the stacker binary, writes a
// config of N stacks whose class_path is a Python blueprint (a generated,
// duck-typed module: no troposphere needed) and one of N stacks of the Go
// blueprint stacker_blueprints.vpc.VPC, and times `stacker build --dump`
// of each (which renders every stack twice: the offline preflight, then the
// dump). It also times one-stack configs, to separate the interpreter's
// start from the per-template cost, and checks with -v that one
// interpreter served the whole run.
//
//	go run ./bench/bridge                  # 200 stacks, 3 runs
//	go run ./bench/bridge -stacks 500 -runs 5
//	go run ./bench/bridge -workers 2       # STACKER_PYTHON_WORKERS=2
//
// With -pyclass (and -pyvars, the stack's variables as one-line YAML) the
// Python stacks use that class instead, found on the PYTHONPATH you give,
// e.g. a troposphere blueprint from your own project:
//
//	PYTHONPATH=~/proj go run ./bench/bridge -pyclass blueprints.sqs.Queues \
//	    -pyvars '{Queues: {Jobs: {VisibilityTimeout: 60}}}'
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stacker-go/stacker/bench/internal/benchutil"
)

func main() {
	stacks := flag.Int("stacks", 200, "number of stacks")
	runs := flag.Int("runs", 3, "runs per configuration (the median is printed)")
	workers := flag.Int("workers", 0, "STACKER_PYTHON_WORKERS (0: the default)")
	bin := flag.String("bin", "", "use this stacker binary instead of building one")
	flag.StringVar(&pyClass, "pyclass", "benchbp.Service", "class_path of the Python stacks")
	flag.StringVar(&pyVars, "pyvars", "", "variables of the Python stacks, one-line YAML (default: the generated class's)")
	flag.Parse()
	if err := run(*stacks, *runs, *workers, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

var pyClass, pyVars string

// pyBlueprint renders a template of the size of a small real blueprint
// (a queue, a topic, a role and their outputs) from its variables.
const pyBlueprint = `import json


class Service(object):
    VARIABLES = {
        "Name": {"type": str},
        "Count": {"type": int, "default": 3},
        "Tags": {"type": dict, "default": {}},
    }

    def __init__(self, name, context, mappings=None, description=None):
        self.name = name
        self.context = context
        self.description = description

    def defined_variables(self):
        return self.VARIABLES

    def resolve_variables(self, provided):
        self.vars = dict((k, v["default"]) for k, v in self.VARIABLES.items() if "default" in v)
        for v in provided:
            self.vars[v.name] = v.value

    def get_parameter_values(self):
        return {}

    def render_template(self):
        n = self.vars["Name"]
        res, outs = {}, {}
        for i in range(self.vars["Count"]):
            res["Queue%d" % i] = {"Type": "AWS::SQS::Queue", "Properties": {
                "QueueName": "%s-%s-%d" % (self.context.get_fqn(), n, i), "VisibilityTimeout": 60,
                "Tags": [{"Key": k, "Value": v} for k, v in sorted(self.vars["Tags"].items())]}}
            res["Topic%d" % i] = {"Type": "AWS::SNS::Topic", "Properties": {
                "Subscription": [{"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Queue%d" % i, "Arn"]}}]}}
            outs["Queue%dUrl" % i] = {"Value": {"Ref": "Queue%d" % i}}
        res["Role"] = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]}}}
        t = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": res, "Outputs": outs}
        if self.description:
            t["Description"] = self.description
        return "v", json.dumps(t, indent=4, sort_keys=True)
`

func run(stacks, runs, workers int, bin string) error {
	tmp, err := os.MkdirTemp("", "stacker-bench-bridge-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		if bin, err = benchutil.BuildStacker(tmp); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(tmp, "lib"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "lib", "benchbp.py"), []byte(pyBlueprint), 0o644); err != nil {
		return err
	}
	env := os.Environ()
	if workers > 0 {
		env = append(env, fmt.Sprintf("STACKER_PYTHON_WORKERS=%d", workers))
	}
	type result struct {
		name string
		wall time.Duration
	}
	var results []result
	measure := func(name string, n int, python bool) error {
		cfg, err := writeConfig(tmp, name, n, python)
		if err != nil {
			return err
		}
		var walls []time.Duration
		for i := 0; i < runs; i++ {
			out := filepath.Join(tmp, "dump-"+name)
			os.RemoveAll(out)
			args := []string{"build", "--dump", out, cfg}
			if python && i == 0 {
				args = append(args, "-v")
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w\n%s", name, err, tail(errOut.String()))
			}
			walls = append(walls, time.Since(start))
			if got := strings.Count(errOut.String(), "Writing stack"); got != n {
				return fmt.Errorf("%s: %d templates written, want %d", name, got, n)
			}
			if python && i == 0 {
				starts := strings.Count(errOut.String(), "python bridge: started")
				if workers <= 1 && starts != 1 {
					return fmt.Errorf("%s: %d interpreter starts, want 1", name, starts)
				}
				fmt.Printf("%-22s interpreter starts logged: %d\n", name, starts)
			}
		}
		slices.Sort(walls)
		med := walls[len(walls)/2]
		results = append(results, result{name, med})
		fmt.Printf("%-22s %d stacks: median wall %v (runs: %v)\n", name, n, med.Round(time.Millisecond), walls)
		return nil
	}
	for _, m := range []struct {
		name   string
		n      int
		python bool
	}{
		{"go-1", 1, false}, {"python-1", 1, true},
		{fmt.Sprintf("go-%d", stacks), stacks, false}, {fmt.Sprintf("python-%d", stacks), stacks, true},
	} {
		if err := measure(m.name, m.n, m.python); err != nil {
			return err
		}
	}
	g1, p1, gN, pN := results[0].wall, results[1].wall, results[2].wall, results[3].wall
	fmt.Printf("\nfirst Python call (interpreter start + one stack, beyond Go): %v\n", (p1 - g1).Round(time.Millisecond))
	fmt.Printf("per Python stack after start-up ((python-%d - python-1)/%d): %v (two renders: preflight and dump)\n",
		stacks, stacks-1, ((pN - p1) / time.Duration(stacks-1)).Round(10*time.Microsecond))
	fmt.Printf("per Go stack ((go-%d - go-1)/%d): %v\n", stacks, stacks-1, ((gN - g1) / time.Duration(stacks-1)).Round(10*time.Microsecond))
	fmt.Printf("%d stacks: Python %v vs Go %v (x%.1f)\n", stacks, pN.Round(time.Millisecond), gN.Round(time.Millisecond), float64(pN)/float64(gN))
	return nil
}

// writeConfig writes a config of n stacks: Python blueprints (benchbp.Service
// on sys_path ./lib) or the Go blueprint stacker_blueprints.vpc.VPC.
func writeConfig(dir, name string, n int, python bool) (string, error) {
	var b strings.Builder
	b.WriteString("namespace: bench\nstacker_bucket: \"\"\nsys_path: ./lib\nstacks:\n")
	for i := 0; i < n; i++ {
		switch {
		case python && pyVars != "":
			fmt.Fprintf(&b, "  - name: svc%d\n    class_path: %s\n    variables: %s\n", i, pyClass, pyVars)
		case python:
			fmt.Fprintf(&b, "  - name: svc%d\n    class_path: %s\n    variables:\n      Name: svc%d\n      Tags: {team: t%d}\n", i, pyClass, i, i%7)
		default:
			fmt.Fprintf(&b, "  - name: vpc%d\n    class_path: stacker_blueprints.vpc.VPC\n    variables:\n      PublicSubnets: [10.128.0.0/24, 10.128.1.0/24]\n      PrivateSubnets: [10.128.8.0/22, 10.128.12.0/22]\n", i)
		}
	}
	path := filepath.Join(dir, name+".yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
