package preflight

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/suggest"
	"github.com/stacker-go/stacker/internal/target"
)

// ProfileSource is what the profile check needs from the credential
// factory (target.Factory).
type ProfileSource interface {
	// ProfileOrigin is the profile a target uses and where its name comes
	// from ("stack", "--profile", "AWS_PROFILE", ...; "" for none).
	ProfileOrigin(k target.Key) (name, origin string)
	// KnownProfiles are the profiles of the shared files.
	KnownProfiles() ([]string, error)
	// ProfileFiles are the shared files read.
	ProfileFiles() []string
}

// Profiles checks, before any AWS call, that every profile the run uses
// is defined in the shared files: the profile of every enabled stack among
// names (its own profile:, else --profile, AWS_PROFILE or
// AWS_DEFAULT_PROFILE) and, when the config has a template bucket, the
// default profile that uploads templates. A stack's own unknown profile is
// a problem at its profile: key; an unknown default profile is one problem
// naming the flag or variable and every stack that uses it. Each offers
// the nearest known profiles. The error is a *Problems (exit 2).
//
// hooks are the hooks the command will run (disabled ones are skipped):
// a hook whose args name a profile that is not defined is a problem at
// that profile arg; a hook without one uses the default profile and is
// named among its users.
func Profiles(cfg *config.Config, names []string, src ProfileSource, hooks ...config.Hook) error {
	known, err := src.KnownProfiles()
	if err != nil {
		return &Problems{config.Errors{&Problem{Msg: err.Error()}}}
	}
	files := strings.Join(src.ProfileFiles(), " or ")
	didYouMean := func(name string) string {
		return suggest.DidYouMean(suggest.Find(name, known, suggest.Options{Limit: suggest.Fraction(3, 2), Max: 3}))
	}
	var problems config.Errors
	// Unknown default profiles, by origin and name, with their users.
	type use struct{ origin, name string }
	users := map[use][]string{}
	var order []use
	note := func(u use, who string) {
		if _, ok := users[u]; !ok {
			order = append(order, u)
		}
		users[u] = append(users[u], who)
	}
	check := func(k target.Key, who string, st *config.Stack) {
		name, origin := src.ProfileOrigin(k)
		if name == "" || slices.Contains(known, name) {
			return
		}
		if origin == "stack" && st != nil {
			problems = append(problems, &Problem{Pos: st.ProfilePos,
				Msg: fmt.Sprintf("stack %q: profile %q is not in %s%s", st.Name, name, files, didYouMean(name))})
			return
		}
		note(use{origin, name}, who)
	}
	if cfg.BucketName() != "" {
		check(target.Key{Region: cfg.StackerBucketRegion}, "the template bucket "+cfg.BucketName(), nil)
	}
	for _, n := range names {
		st := cfg.Stack(n)
		if st == nil || !st.Enabled {
			continue
		}
		check(target.Key{Profile: st.Profile, Region: st.Region}, fmt.Sprintf("stack %q at %s:%d:%d", st.Name, st.Pos.File, st.Pos.Line, st.Pos.Col), st)
	}
	for _, h := range hooks {
		if !h.Enabled {
			continue
		}
		var k target.Key
		k.Profile, _ = h.Args["profile"].(string)
		k.Region, _ = h.Args["region"].(string)
		if k.Profile != "" {
			if !slices.Contains(known, k.Profile) {
				problems = append(problems, &Problem{Pos: h.ArgPos["profile"],
					Msg: fmt.Sprintf("hook %s: profile %q is not in %s%s", h.Path, k.Profile, files, didYouMean(k.Profile))})
			}
			continue
		}
		check(k, fmt.Sprintf("hook %s at %s:%d:%d", h.Path, h.Pos.File, h.Pos.Line, h.Pos.Col), nil)
	}
	for _, u := range order {
		what := u.origin + " " + u.name
		if u.origin != "--profile" {
			what = u.origin + "=" + u.name
		}
		problems = append(problems, &Problem{
			Msg: fmt.Sprintf("%s: profile %q is not in %s (used by %s)%s", what, u.name, files, strings.Join(users[u], ", "), didYouMean(u.name))})
	}
	if len(problems) == 0 {
		return nil
	}
	return (&Report{Problems: problems}).Err()
}
