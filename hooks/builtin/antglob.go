package builtin

import (
	"path"
	"strings"
)

// antGlob is one Ant-style glob as formic (the library stacker's Lambda
// hook uses) reads it, matched against slash-separated paths relative to
// the base directory:
//   - `*` and `?` match within one path element, `[...]` a character class
//     (`[!...]` negated);
//   - a `**` element matches zero or more directories;
//   - a leading `/` anchors the glob at the base directory; without it the
//     glob matches at any depth (`*.py` is `**/*.py`);
//   - a trailing `/` means everything below (`dir/` is `dir/**`).
type antGlob struct {
	elems []string
}

// formicDefaultExcludes are formic's default excludes (Ant's list plus
// __pycache__), always applied by stacker.
var formicDefaultExcludes = []string{
	"**/__pycache__/**",
	"**/*~", "**/#*#", "**/.#*", "**/%*%", "**/._*",
	"**/CVS", "**/CVS/**", "**/.cvsignore",
	"**/SCCS", "**/SCCS/**", "**/vssver.scc",
	"**/.svn", "**/.svn/**", "**/.DS_Store",
	"**/.git", "**/.git/**", "**/.gitattributes", "**/.gitignore", "**/.gitmodules",
	"**/.hg", "**/.hg/**", "**/.hgignore", "**/.hgsub", "**/.hgsubstate", "**/.hgtags",
	"**/.bzr", "**/.bzr/**", "**/.bzrignore",
}

func compileAntGlob(p string) antGlob {
	p = strings.ReplaceAll(p, `\`, "/")
	rooted := strings.HasPrefix(p, "/")
	if strings.HasSuffix(p, "/") {
		p += "**"
	}
	var elems []string
	for _, e := range strings.Split(p, "/") {
		if e == "" || e == "." {
			continue
		}
		if e == "**" && len(elems) > 0 && elems[len(elems)-1] == "**" {
			continue
		}
		// [!x] is Python fnmatch's negation; path.Match spells it [^x].
		e = strings.ReplaceAll(e, "[!", "[^")
		elems = append(elems, e)
	}
	if !rooted && (len(elems) == 0 || elems[0] != "**") {
		elems = append([]string{"**"}, elems...)
	}
	return antGlob{elems: elems}
}

// match reports whether rel (slash-separated, relative) matches.
func (g antGlob) match(rel string) bool {
	return matchElems(g.elems, strings.Split(rel, "/"))
}

func matchElems(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return true
			}
			for i := 0; i <= len(segs); i++ {
				if matchElems(rest, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		ok, err := path.Match(pat[0], segs[0])
		if err != nil {
			// A malformed class ("[a"): compare literally.
			ok = pat[0] == segs[0]
		}
		if !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// fileSet selects files by include and exclude globs (formic's FileSet).
type fileSet struct {
	include, exclude []antGlob
}

func newFileSet(include, exclude []string) fileSet {
	var fs fileSet
	for _, p := range include {
		fs.include = append(fs.include, compileAntGlob(p))
	}
	for _, p := range append(append([]string{}, exclude...), formicDefaultExcludes...) {
		fs.exclude = append(fs.exclude, compileAntGlob(p))
	}
	return fs
}

func (fs fileSet) selects(rel string) bool {
	in := false
	for _, g := range fs.include {
		if g.match(rel) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, g := range fs.exclude {
		if g.match(rel) {
			return false
		}
	}
	return true
}
