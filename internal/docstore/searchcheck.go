package docstore

// This file checks a collection's search configuration against its schema
// and hidden fields (checkSearch), reads one from decoded JSON
// (DecodeSearch), and enforces the shape of client-supplied vectors in
// documents (checkVectors).

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/embed"
)

// Bounds of a search configuration.
const (
	// MaxTextFields is the most fields full-text search reads.
	MaxTextFields = 16
	// MaxTextWeight is the highest weight of a text field (the lowest is 1).
	MaxTextWeight = 4
	// MaxVectorFields is the most vector fields of a collection.
	MaxVectorFields = 4
	// MaxVectorDimensions is the longest vector a field may hold.
	MaxVectorDimensions = 4096
	// MaxEmbedderFrom is the most data paths an embedder reads.
	MaxEmbedderFrom = 8
	// DefaultTextLanguage is the language of full-text search unless
	// configured.
	DefaultTextLanguage = "english"
	// BuiltinEmbedder names the offline embedder every Basalt has.
	BuiltinEmbedder = "builtin"
)

// TextLanguages are the languages full-text search accepts: PostgreSQL's
// text search configurations ("simple" stems nothing).
var textLanguages = []string{
	"simple", "arabic", "danish", "dutch", "english", "finnish", "french", "german", "greek",
	"hungarian", "indonesian", "irish", "italian", "lithuanian", "nepali", "norwegian",
	"portuguese", "romanian", "russian", "spanish", "swedish", "tamil", "turkish",
}

// TextLanguages returns the languages TextSearch.Language accepts.
func TextLanguages() []string { return slices.Clone(textLanguages) }

// defaultEmbedders is Options.Embedders when unset: the builtin embedder
// only, at the dimensions it makes.
func defaultEmbedders(name string, dims int) error {
	if name != BuiltinEmbedder {
		return fmt.Errorf("%w: %q (known: [%s])", embed.ErrUnknown, name, BuiltinEmbedder)
	}
	if dims < embed.MinBuiltinDimensions || dims > embed.MaxBuiltinDimensions {
		return fmt.Errorf("%w: the builtin embedder makes %d to %d dimensions, not %d",
			embed.ErrDimensions, embed.MinBuiltinDimensions, embed.MaxBuiltinDimensions, dims)
	}
	return nil
}

// embedderProblem returns the pointer below the vector field (embedder or
// dimensions) and the message of an Options.Embedders refusal.
func embedderProblem(err error) (member, msg string) {
	detail := func(sentinel error) string {
		return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
	}
	switch {
	case errors.Is(err, embed.ErrUnknown):
		return "embedder", "no embedder of this name is configured (" + detail(embed.ErrUnknown) + ")"
	case errors.Is(err, embed.ErrDimensions):
		return "dimensions", detail(embed.ErrDimensions)
	}
	return "embedder", "the embedder cannot be used: " + err.Error()
}

// validVectorName reports whether name matches [A-Za-z_][A-Za-z0-9_]{0,62}.
func validVectorName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// hiddenRelation reports whether data path p is a hidden field, lies
// inside one, or contains one.
func hiddenRelation(p string, hidden []string) bool {
	for _, h := range hidden {
		if p == h || strings.HasPrefix(p, h+".") || strings.HasPrefix(h, p+".") {
			return true
		}
	}
	return false
}

const hiddenTextMessage = "is, contains or lies inside a hidden field: searching it would reveal the hidden content through which documents match"

// checkTextPath checks a data path whose text search (or an embedder)
// reads, and returns the problem ("" for none).
func checkTextPath(p string, fields *query.Schema, hidden []string) string {
	if isSystemField(p) {
		return "is a system field; only data fields can be searched"
	}
	f, ok := fields.Lookup(p)
	if !ok || f.System != query.SystemNone {
		return "is not a property of the schema"
	}
	switch {
	case f.Type == query.TypeString, f.Type == query.TypeAny:
	case f.Type == query.TypeArray && (f.Items == query.TypeString || f.Items == query.TypeAny):
	case f.Type == query.TypeArray:
		return fmt.Sprintf("is an array of %s values; only strings (or arrays of strings) can be searched", f.Items)
	default:
		return fmt.Sprintf("is a %s field; only strings (or arrays of strings) can be searched", f.Type)
	}
	if hiddenRelation(p, hidden) {
		return hiddenTextMessage
	}
	return ""
}

// checkSearch checks a search configuration against the query schema of
// the collection (fields) and its hidden fields, and returns it with its
// defaults made explicit: language english, metric cosine, source client,
// embedder builtin. A configuration with neither text nor vectors is the
// zero Search. Problems are returned together, each with a pointer under
// /search.
func checkSearch(spec *Search, fields *query.Schema, hidden []string, embedders func(string, int) error) (Search, []fault.FieldError) {
	if spec == nil {
		return Search{}, nil
	}
	var problems []fault.FieldError
	add := func(msg string, path ...string) {
		problems = append(problems, fault.FieldError{Pointer: pointer(append([]string{"search"}, path...)), Message: msg})
	}
	var out Search
	if t := spec.Text; t != nil {
		ts := &TextSearch{Fields: make(map[string]int, len(t.Fields)), Language: t.Language}
		if len(t.Fields) == 0 || len(t.Fields) > MaxTextFields {
			add(fmt.Sprintf("full-text search reads 1 to %d fields", MaxTextFields), "text", "fields")
		}
		for _, p := range slices.Sorted(maps.Keys(t.Fields)) {
			w := t.Fields[p]
			if msg := checkTextPath(p, fields, hidden); msg != "" {
				add(msg, "text", "fields", p)
			} else if w < 1 || w > MaxTextWeight {
				add(fmt.Sprintf("the weight of a field is 1 (least) to %d (most)", MaxTextWeight), "text", "fields", p)
			}
			ts.Fields[p] = w
		}
		if ts.Language == "" {
			ts.Language = DefaultTextLanguage
		}
		if !slices.Contains(textLanguages, ts.Language) {
			add("unknown language (expected one of "+strings.Join(textLanguages, ", ")+")", "text", "language")
		}
		out.Text = ts
	}
	if len(spec.Vectors) > MaxVectorFields {
		add(fmt.Sprintf("a collection has at most %d vector fields", MaxVectorFields), "vectors")
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Vectors)) {
		v := spec.Vectors[name]
		at := func(msg string, path ...string) { add(msg, append([]string{"vectors", name}, path...)...) }
		switch {
		case !validVectorName(name):
			at("a vector field's name must match [A-Za-z_][A-Za-z0-9_]{0,62}")
		case isSystemField(name):
			at("is a system field")
		}
		if v.Dimensions < 1 || v.Dimensions > MaxVectorDimensions {
			at(fmt.Sprintf("must be 1 to %d", MaxVectorDimensions), "dimensions")
		}
		if v.Metric == "" {
			v.Metric = MetricCosine
		}
		switch v.Metric {
		case MetricCosine, MetricDot, MetricL2:
		default:
			at("unknown metric (expected cosine, dot or l2)", "metric")
		}
		if v.Source == "" {
			v.Source = SourceClient
		}
		v.From = slices.Clone(v.From)
		switch v.Source {
		case SourceClient:
			if len(v.From) > 0 {
				at(`only a vector field of source "embedder" reads other fields`, "from")
			}
			if v.Embedder != "" {
				at(`only a vector field of source "embedder" names an embedder`, "embedder")
			}
			if !validVectorName(name) || isSystemField(name) {
				break
			}
			f, ok := fields.Lookup(name)
			switch {
			case !ok:
				at("a client-supplied vector field must be a property of the schema (an array of numbers)")
			case f.Type != query.TypeArray:
				at(fmt.Sprintf("is a %s property; a client-supplied vector field must be an array of numbers", f.Type))
			case f.Items != query.TypeAny && f.Items != query.TypeNumber && f.Items != query.TypeInteger:
				at(fmt.Sprintf("is an array of %s values; a client-supplied vector field must be an array of numbers", f.Items))
			case hiddenRelation(name, hidden):
				at("is a hidden field: searching by it would reveal the hidden vector through which documents are near")
			}
		case SourceEmbedder:
			if len(v.From) == 0 || len(v.From) > MaxEmbedderFrom {
				at(fmt.Sprintf("an embedder reads 1 to %d fields", MaxEmbedderFrom), "from")
			}
			for i, p := range v.From {
				if msg := checkTextPath(p, fields, hidden); msg != "" {
					at(msg, "from", strconv.Itoa(i))
				} else if slices.Index(v.From, p) < i {
					at("is listed twice", "from", strconv.Itoa(i))
				}
			}
			if v.Embedder == "" {
				v.Embedder = BuiltinEmbedder
			}
			if v.Dimensions >= 1 && v.Dimensions <= MaxVectorDimensions {
				if err := embedders(v.Embedder, v.Dimensions); err != nil {
					member, msg := embedderProblem(err)
					at(msg, member)
				}
			}
		default:
			at("unknown source (expected client or embedder)", "source")
		}
		if out.Vectors == nil {
			out.Vectors = make(map[string]VectorField, len(spec.Vectors))
		}
		out.Vectors[name] = v
	}
	if len(problems) > 0 {
		return Search{}, problems
	}
	return out, nil
}

// searchError is the fault of a search configuration's problems.
func searchError(op string, problems []fault.FieldError, lim Limits) error {
	msg := "invalid search configuration: " + problems[0].Pointer + " " + problems[0].Message
	if len(problems) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(problems)-1)
	}
	if len(problems) > lim.MaxSchemaErrors {
		problems = problems[:lim.MaxSchemaErrors]
	}
	return &fault.Error{Kind: fault.Validation, Op: op, Msg: msg, Fields: problems}
}

// clientVectors returns the client-supplied vector fields of s and their
// dimensions; nil when there are none.
func clientVectors(s Search) map[string]int {
	var out map[string]int
	for name, v := range s.Vectors {
		if v.Source == SourceClient {
			if out == nil {
				out = make(map[string]int)
			}
			out[name] = v.Dimensions
		}
	}
	return out
}

// checkVectors checks the client-supplied vectors of a document's data
// (the generic form: json.Number or float64 numbers): each vector field is
// either absent or an array of exactly its dimensions of finite numbers.
// Pointers are prefixed with prefix (e.g. "/data").
func checkVectors(prefix string, data any, vectors map[string]int) []fault.FieldError {
	obj, ok := data.(map[string]any)
	if !ok || len(vectors) == 0 {
		return nil
	}
	var out []fault.FieldError
	for _, name := range slices.Sorted(maps.Keys(vectors)) {
		v, present := obj[name]
		if !present {
			continue
		}
		dims := vectors[name]
		msg := fmt.Sprintf("must be an array of exactly %d finite numbers (the vector field %q) or absent", dims, name)
		list, ok := v.([]any)
		if !ok || len(list) != dims {
			out = append(out, fault.FieldError{Pointer: prefix + pointer([]string{name}), Message: msg})
			continue
		}
		for _, e := range list {
			if !finiteNumber(e) {
				out = append(out, fault.FieldError{Pointer: prefix + pointer([]string{name}), Message: msg})
				break
			}
		}
	}
	return out
}

// finiteNumber reports whether v is a JSON number whose value is finite.
func finiteNumber(v any) bool {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(n), 64); err != nil {
			return false
		}
	case float64:
		f = n
	case int:
		return true
	case int64:
		return true
	default:
		return false
	}
	return !math.IsInf(f, 0) && !math.IsNaN(f)
}

// Equal reports whether s and o configure the same search.
func (s Search) Equal(o Search) bool {
	if (s.Text == nil) != (o.Text == nil) || len(s.Vectors) != len(o.Vectors) {
		return false
	}
	if s.Text != nil {
		if s.Text.Language != o.Text.Language || len(s.Text.Fields) != len(o.Text.Fields) {
			return false
		}
		for k, w := range s.Text.Fields {
			if ow, ok := o.Text.Fields[k]; !ok || ow != w {
				return false
			}
		}
	}
	for k, v := range s.Vectors {
		ov, ok := o.Vectors[k]
		if !ok || v.Dimensions != ov.Dimensions || v.Metric != ov.Metric || v.Source != ov.Source ||
			v.Embedder != ov.Embedder || !slices.Equal(v.From, ov.From) {
			return false
		}
	}
	return true
}

// DecodeSearch reads the search member of a collection definition from
// its decoded JSON (objects map[string]any, numbers json.Number or
// float64): null or {"text":{"fields":{path:weight,…},"language":…},
// "vectors":{name:{"dimensions":…,"metric":…,"source":…,"from":[…],
// "embedder":…}}}. Unknown members and values of the wrong JSON type are
// fault.Invalid with a pointer under /search; what the values mean is
// checked when the collection is created or replaced.
func DecodeSearch(v any) (*Search, error) {
	if v == nil {
		return nil, nil
	}
	bad := func(msg string, path ...string) error {
		ptr := pointer(append([]string{"search"}, path...))
		return &fault.Error{Kind: fault.Invalid, Op: "docstore.DecodeSearch", Msg: ptr + ": " + msg,
			Fields: []fault.FieldError{{Pointer: ptr, Message: msg}}}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, bad("must be an object")
	}
	var out Search
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		switch k {
		case "text":
			if obj[k] == nil {
				continue
			}
			t, ok := obj[k].(map[string]any)
			if !ok {
				return nil, bad("must be an object", "text")
			}
			ts := &TextSearch{}
			for _, tk := range slices.Sorted(maps.Keys(t)) {
				switch tk {
				case "fields":
					if t[tk] == nil {
						continue
					}
					fs, ok := t[tk].(map[string]any)
					if !ok {
						return nil, bad("must be an object of field paths and weights", "text", "fields")
					}
					ts.Fields = make(map[string]int, len(fs))
					for _, p := range slices.Sorted(maps.Keys(fs)) {
						w, ok := jsonInt(fs[p])
						if !ok {
							return nil, bad("a weight must be an integer", "text", "fields", p)
						}
						ts.Fields[p] = w
					}
				case "language":
					if t[tk] == nil {
						continue
					}
					s, ok := t[tk].(string)
					if !ok {
						return nil, bad("must be a string", "text", "language")
					}
					ts.Language = s
				default:
					return nil, bad("unknown member (expected fields, language)", "text", tk)
				}
			}
			out.Text = ts
		case "vectors":
			if obj[k] == nil {
				continue
			}
			vs, ok := obj[k].(map[string]any)
			if !ok {
				return nil, bad("must be an object of vector fields", "vectors")
			}
			out.Vectors = make(map[string]VectorField, len(vs))
			for _, name := range slices.Sorted(maps.Keys(vs)) {
				f, ok := vs[name].(map[string]any)
				if !ok {
					return nil, bad("a vector field must be an object", "vectors", name)
				}
				var vf VectorField
				for _, fk := range slices.Sorted(maps.Keys(f)) {
					fv := f[fk]
					if fv == nil {
						continue
					}
					var ok bool
					switch fk {
					case "dimensions":
						if vf.Dimensions, ok = jsonInt(fv); !ok {
							return nil, bad("must be an integer", "vectors", name, fk)
						}
					case "metric":
						if vf.Metric, ok = fv.(string); !ok {
							return nil, bad("must be a string", "vectors", name, fk)
						}
					case "source":
						if vf.Source, ok = fv.(string); !ok {
							return nil, bad("must be a string", "vectors", name, fk)
						}
					case "embedder":
						if vf.Embedder, ok = fv.(string); !ok {
							return nil, bad("must be a string", "vectors", name, fk)
						}
					case "from":
						list, ok := fv.([]any)
						if !ok {
							return nil, bad("must be an array of field paths", "vectors", name, fk)
						}
						for i, e := range list {
							s, ok := e.(string)
							if !ok {
								return nil, bad("a field path must be a string", "vectors", name, fk, strconv.Itoa(i))
							}
							vf.From = append(vf.From, s)
						}
					default:
						return nil, bad("unknown member (expected dimensions, metric, source, from, embedder)", "vectors", name, fk)
					}
				}
				out.Vectors[name] = vf
			}
		default:
			return nil, bad("unknown member (expected text, vectors)", k)
		}
	}
	return &out, nil
}

// jsonInt reads a decoded JSON number that is an integer (in the int32
// range, far beyond any bound a search configuration has).
func jsonInt(v any) (int, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(n), 64); err != nil {
			return 0, false
		}
	case float64:
		f = n
	case int:
		f = float64(n)
	default:
		return 0, false
	}
	if f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// searchJSON renders s in the decoded form DecodeSearch reads, for a merge
// patch of the collection definition; nil when s configures nothing.
func searchJSON(s Search) map[string]any {
	if !s.Enabled() {
		return nil
	}
	out := map[string]any{}
	if s.Text != nil {
		fs := make(map[string]any, len(s.Text.Fields))
		for p, w := range s.Text.Fields {
			fs[p] = json.Number(strconv.Itoa(w))
		}
		out["text"] = map[string]any{"fields": fs, "language": s.Text.Language}
	}
	if len(s.Vectors) > 0 {
		vs := make(map[string]any, len(s.Vectors))
		for name, v := range s.Vectors {
			f := map[string]any{"dimensions": json.Number(strconv.Itoa(v.Dimensions)), "metric": v.Metric, "source": v.Source}
			if len(v.From) > 0 {
				from := make([]any, len(v.From))
				for i, p := range v.From {
					from[i] = p
				}
				f["from"] = from
			}
			if v.Embedder != "" {
				f["embedder"] = v.Embedder
			}
			vs[name] = f
		}
		out["vectors"] = vs
	}
	return out
}
