package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

// The allowlist commands are the blocklist commands on the other list.
func allowAddCmd(e *env) *cli.Command    { return entryAddCmd(e, redisstore.Allowlist) }
func allowRemoveCmd(e *env) *cli.Command { return entryRemoveCmd(e, redisstore.Allowlist) }
func allowListCmd(e *env) *cli.Command   { return entryListCmd(e, redisstore.Allowlist) }
