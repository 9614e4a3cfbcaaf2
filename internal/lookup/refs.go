package lookup

// Ref is one lookup of a given type found in a value.
type Ref struct {
	// Data is the lookup's data; "" with Literal false when it holds
	// nested lookups (knowable only at run time).
	Data    string
	Literal bool
	// Raw is the source text, "${type data}".
	Raw string
}

// Refs returns every lookup of type typ in v (strings, lists and maps at
// any depth, nested lookups included), in walk order. Used to check before
// a run that what lookups read will exist (hook_data keys).
func (r *Registry) Refs(v any, typ string) ([]Ref, error) {
	var out []Ref
	err := walkStrings(v, "", func(path, s string) error {
		if !containsLookup(s) {
			return nil
		}
		parts, err := r.parse(s)
		if err != nil {
			return wrapPath(path, err)
		}
		return walkCalls(parts, func(c *call) error {
			if c.typ != typ {
				return nil
			}
			data, lit := literal(c.data)
			out = append(out, Ref{Data: data, Literal: lit, Raw: c.raw})
			return nil
		})
	})
	return out, err
}

func containsLookup(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] == '{' {
			return true
		}
	}
	return false
}
