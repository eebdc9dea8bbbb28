package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// intersperse lets flags follow positional arguments, as operators write
// them ("number add +331... --forward +336..."): urfave/cli v2 stops
// parsing flags at the first argument. It moves the positional arguments
// of the command named in args behind its flags.
func intersperse(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	cmds := app.Commands
	flags := app.Flags
	// Global flags and the command path.
	for len(rest) > 0 {
		a := rest[0]
		if strings.HasPrefix(a, "-") {
			out = append(out, a)
			rest = rest[1:]
			if takesValue(flags, a) && len(rest) > 0 {
				out = append(out, rest[0])
				rest = rest[1:]
			}
			continue
		}
		i := slices.IndexFunc(cmds, func(c *cli.Command) bool { return c.HasName(a) })
		if i < 0 {
			break
		}
		out = append(out, a)
		rest = rest[1:]
		flags = cmds[i].Flags
		cmds = cmds[i].Subcommands
		if len(cmds) == 0 {
			break
		}
	}
	var pos []string
	for len(rest) > 0 {
		a := rest[0]
		rest = rest[1:]
		switch {
		case a == "--":
			pos = append(pos, rest...)
			rest = nil
		case strings.HasPrefix(a, "-") && len(a) > 1:
			out = append(out, a)
			if takesValue(flags, a) && len(rest) > 0 {
				out = append(out, rest[0])
				rest = rest[1:]
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

// takesValue reports whether flag arg ("--name" or "-name", without "=")
// consumes the next argument.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		_, isBool := f.(*cli.BoolFlag)
		return !isBool
	}
	return false
}
