// Package rpcapi is Basalt's gRPC and Connect transport: the basalt.v1
// services of proto/ over the same service layer as REST. Handlers are
// thin: they turn a request message into the service's request (decoding
// JSON data strictly and within bounds, as REST does), call one service
// method and turn its answer into the response message; errors cross the
// wire through rpcfault.
package rpcapi

import (
	"encoding/json"
	"errors"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

const op = "rpcapi"

// decoder turns the JSON of request messages into the service's values,
// within the same bounds as REST bodies.
type decoder struct {
	limits jsonvalue.Limits
}

// object decodes b, the JSON text of one object, as a document's data (or
// a merge patch); pointer prefixes the JSON pointers of its errors (the
// field of the request that held it, "/data").
func (d decoder) object(b []byte, pointer string) (docstore.Data, error) {
	if len(b) == 0 {
		return nil, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "the JSON object is missing",
			Fields: []fault.FieldError{{Pointer: pointer, Message: "is required: one JSON object"}}}
	}
	m, err := jsonvalue.DecodeObject(b, d.limits)
	var fe *fault.Error
	if err != nil && errors.As(err, &fe) {
		for i := range fe.Fields {
			fe.Fields[i].Pointer = pointer + fe.Fields[i].Pointer
		}
	}
	return m, err
}

// document is the message of d.
func document(d docstore.Document) *basaltv1.Document {
	data := []byte(d.Data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	return &basaltv1.Document{
		Id: d.ID, Collection: d.Collection, Version: d.Version,
		CreatedAt: timestamppb.New(d.CreatedAt), UpdatedAt: timestamppb.New(d.UpdatedAt),
		Data: data,
	}
}

// listRequest is the service's request of r.
func listRequest(r *basaltv1.ListDocumentsRequest) docstore.ListRequest {
	return docstore.ListRequest{
		Collection: r.GetCollection(), Filter: r.GetFilter(), Sort: r.GetSort(), Fields: r.GetFields(),
		Cursor: r.GetCursor(), Limit: int(r.GetLimit()), Total: r.GetTotal(),
	}
}

// page is the response of p.
func page(p docstore.Page) *basaltv1.ListDocumentsResponse {
	out := &basaltv1.ListDocumentsResponse{Items: make([]*basaltv1.Document, len(p.Items)), NextCursor: p.NextCursor,
		Total: p.Total, TotalCapped: p.TotalCapped}
	for i, d := range p.Items {
		out.Items[i] = document(d)
	}
	return out
}

// batchOps are the service's operations of a batch: each with its data
// decoded, errors pointing at /operations/i/…, and no idempotency key of
// its own (the batch has one).
func (d decoder) batchOps(ops []*basaltv1.BatchOperation) ([]docstore.BatchOp, error) {
	out := make([]docstore.BatchOp, len(ops))
	for i, o := range ops {
		at := "/operations/" + strconv.Itoa(i)
		var (
			bo  docstore.BatchOp
			key string
			err error
		)
		switch x := o.GetOperation().(type) {
		case *basaltv1.BatchOperation_Create:
			c := x.Create
			bo = docstore.BatchOp{Op: docstore.OpCreate, Collection: c.GetCollection(), ID: c.GetId()}
			bo.Data, err = d.object(c.GetData(), at+"/create/data")
			key = c.GetIdempotencyKey()
		case *basaltv1.BatchOperation_Replace:
			r := x.Replace
			bo = docstore.BatchOp{Op: docstore.OpReplace, Collection: r.GetCollection(), ID: r.GetId(), IfMatch: r.GetExpectedVersion()}
			bo.Data, err = d.object(r.GetData(), at+"/replace/data")
			key = r.GetIdempotencyKey()
		case *basaltv1.BatchOperation_Patch:
			p := x.Patch
			bo = docstore.BatchOp{Op: docstore.OpPatch, Collection: p.GetCollection(), ID: p.GetId(), IfMatch: p.GetExpectedVersion()}
			bo.Data, err = d.object(p.GetPatch(), at+"/patch/patch")
			key = p.GetIdempotencyKey()
		case *basaltv1.BatchOperation_Delete:
			del := x.Delete
			bo = docstore.BatchOp{Op: docstore.OpDelete, Collection: del.GetCollection(), ID: del.GetId(), IfMatch: del.GetExpectedVersion()}
			key = del.GetIdempotencyKey()
		default:
			return nil, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "a batch operation is empty",
				Fields: []fault.FieldError{{Pointer: at, Message: "must be one of create, replace, patch or delete"}}}
		}
		if err != nil {
			return nil, err
		}
		if key != "" {
			return nil, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "an operation of a batch has its own idempotency key",
				Fields: []fault.FieldError{{Pointer: at, Message: "must not have an idempotency key: the batch has one"}}}
		}
		out[i] = bo
	}
	return out, nil
}

// batchResults is the response of a committed batch.
func batchResults(rs []docstore.BatchResult) *basaltv1.BatchResponse {
	out := &basaltv1.BatchResponse{Results: make([]*basaltv1.BatchResult, len(rs))}
	for i, r := range rs {
		res := &basaltv1.BatchResult{Id: r.ID}
		if r.Document != nil {
			res.Document = document(*r.Document)
		}
		out.Results[i] = res
	}
	return out
}

// collection is the message of c.
func collection(c docstore.Collection) *basaltv1.Collection {
	return &basaltv1.Collection{
		Name: c.Name, Schema: []byte(c.Schema), Indexes: indexes(c.Indexes), Rules: rules(c.Rules),
		HiddenFields: c.HiddenFields, Search: search(c.Search), Version: c.Version,
		CreatedAt: timestamppb.New(c.CreatedAt), UpdatedAt: timestamppb.New(c.UpdatedAt), References: c.References,
	}
}

// collectionSpec is the service's spec of s.
func collectionSpec(s *basaltv1.CollectionSpec) docstore.CollectionSpec {
	spec := docstore.CollectionSpec{Name: s.GetName(), HiddenFields: s.GetHiddenFields(), References: s.GetReferences()}
	if len(s.GetSchema()) > 0 {
		spec.Schema = json.RawMessage(s.GetSchema())
	}
	for _, ix := range s.GetIndexes() {
		spec.Indexes = append(spec.Indexes, docstore.Index{Fields: ix.GetFields()})
	}
	if r := s.GetRules(); r != nil {
		spec.Rules = docstore.Rules{List: r.List, Get: r.Get, Create: r.Create, Update: r.Update, Delete: r.Delete}
	}
	if sr := s.GetSearch(); sr != nil {
		var out docstore.Search
		if t := sr.GetText(); t != nil {
			out.Text = &docstore.TextSearch{Fields: map[string]int{}, Language: t.GetLanguage()}
			for f, w := range t.GetFields() {
				out.Text.Fields[f] = int(w)
			}
		}
		for name, v := range sr.GetVectors() {
			if out.Vectors == nil {
				out.Vectors = map[string]docstore.VectorField{}
			}
			out.Vectors[name] = docstore.VectorField{Dimensions: int(v.GetDimensions()), Metric: v.GetMetric(),
				Source: v.GetSource(), From: v.GetFrom(), Embedder: v.GetEmbedder()}
		}
		if out.Enabled() {
			spec.Search = &out
		}
	}
	return spec
}

func indexes(ix []docstore.Index) []*basaltv1.Index {
	out := make([]*basaltv1.Index, len(ix))
	for i, x := range ix {
		out[i] = &basaltv1.Index{Fields: x.Fields}
	}
	return out
}

func rules(r docstore.Rules) *basaltv1.Rules {
	return &basaltv1.Rules{List: r.List, Get: r.Get, Create: r.Create, Update: r.Update, Delete: r.Delete}
}

func search(s docstore.Search) *basaltv1.Search {
	if !s.Enabled() {
		return nil
	}
	out := &basaltv1.Search{}
	if t := s.Text; t != nil {
		out.Text = &basaltv1.TextSearch{Fields: map[string]int32{}, Language: t.Language}
		for f, w := range t.Fields {
			out.Text.Fields[f] = int32(w)
		}
	}
	if len(s.Vectors) > 0 {
		out.Vectors = map[string]*basaltv1.VectorField{}
		for name, v := range s.Vectors {
			out.Vectors[name] = &basaltv1.VectorField{Dimensions: int32(v.Dimensions), Metric: v.Metric, Source: v.Source,
				From: v.From, Embedder: v.Embedder}
		}
	}
	return out
}

// The conversions of the other direction, for the clients of this API
// that stand for the services (package remote).

// DocumentOf is the document of message m.
func DocumentOf(m *basaltv1.Document) docstore.Document {
	return docstore.Document{Collection: m.GetCollection(), ID: m.GetId(), Version: m.GetVersion(),
		CreatedAt: m.GetCreatedAt().AsTime(), UpdatedAt: m.GetUpdatedAt().AsTime(), Data: json.RawMessage(m.GetData())}
}

// PageOf is the page of a list's response.
func PageOf(m *basaltv1.ListDocumentsResponse) docstore.Page {
	p := docstore.Page{NextCursor: m.GetNextCursor(), TotalCapped: m.GetTotalCapped(), Items: make([]docstore.Document, len(m.GetItems()))}
	if m.Total != nil {
		t := m.GetTotal()
		p.Total = &t
	}
	for i, d := range m.GetItems() {
		p.Items[i] = DocumentOf(d)
	}
	return p
}

// CollectionOf is the collection of message m.
func CollectionOf(m *basaltv1.Collection) docstore.Collection {
	c := docstore.Collection{Name: m.GetName(), Schema: json.RawMessage(m.GetSchema()), HiddenFields: m.GetHiddenFields(),
		Version: m.GetVersion(), CreatedAt: m.GetCreatedAt().AsTime(), UpdatedAt: m.GetUpdatedAt().AsTime()}
	if len(m.GetReferences()) > 0 {
		c.References = m.GetReferences()
	}
	for _, ix := range m.GetIndexes() {
		c.Indexes = append(c.Indexes, docstore.Index{Fields: ix.GetFields()})
	}
	if r := m.GetRules(); r != nil {
		c.Rules = docstore.Rules{List: r.List, Get: r.Get, Create: r.Create, Update: r.Update, Delete: r.Delete}
	}
	if s := collectionSpec(&basaltv1.CollectionSpec{Search: m.GetSearch()}).Search; s != nil {
		c.Search = *s
	}
	return c
}

// CollectionSpecMessage is the message of spec.
func CollectionSpecMessage(spec docstore.CollectionSpec) *basaltv1.CollectionSpec {
	m := &basaltv1.CollectionSpec{Name: spec.Name, Schema: []byte(spec.Schema), Indexes: indexes(spec.Indexes), Rules: rules(spec.Rules),
		HiddenFields: spec.HiddenFields, References: spec.References}
	if spec.Search != nil {
		m.Search = search(*spec.Search)
	}
	return m
}
