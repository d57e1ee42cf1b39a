package restapi

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

func TestBatchOps(t *testing.T) {
	body, err := jsonvalue.DecodeObject([]byte(`{"operations":[
		{"op":"create","collection":"posts","id":"a","data":{"title":"x","n":1}},
		{"op":"patch","collection":"posts","id":"b","data":{"n":null},"ifMatch":3},
		{"op":"delete","collection":"posts","id":"c"}]}`), jsonvalue.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := batchOps(body)
	if err != nil {
		t.Fatal(err)
	}
	want := []docstore.BatchOp{
		{Op: docstore.OpCreate, Collection: "posts", ID: "a", Data: docstore.Data{"title": "x", "n": json.Number("1")}},
		{Op: docstore.OpPatch, Collection: "posts", ID: "b", Data: docstore.Data{"n": nil}, IfMatch: 3},
		{Op: docstore.OpDelete, Collection: "posts", ID: "c"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batchOps = %+v\nwant %+v", got, want)
	}
}

func TestBatchOpsRejects(t *testing.T) {
	tests := []struct{ body, pointer string }{
		{`{"operations":{}}`, "/operations"},
		{`{"ops":[]}`, "/ops"},
		{`{"operations":[1]}`, "/operations/0"},
		{`{"operations":[{"collection":"posts"}]}`, "/operations/0/op"},
		{`{"operations":[{"op":1}]}`, "/operations/0/op"},
		{`{"operations":[{"op":"delete","id":7}]}`, "/operations/0/id"},
		{`{"operations":[{"op":"delete","ifMatch":0}]}`, "/operations/0/ifMatch"},
		{`{"operations":[{"op":"delete","ifMatch":1.5}]}`, "/operations/0/ifMatch"},
		{`{"operations":[{"op":"create","data":"x"}]}`, "/operations/0/data"},
		{`{"operations":[{"op":"create","a/b":1}]}`, "/operations/0/a~1b"},
	}
	for _, tc := range tests {
		body, err := jsonvalue.DecodeObject([]byte(tc.body), jsonvalue.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = batchOps(body)
		fields := fault.FieldsOf(err)
		if !fault.Is(err, fault.Invalid) || len(fields) != 1 || fields[0].Pointer != tc.pointer {
			t.Errorf("batchOps(%s) = %v %v, want invalid at %s", tc.body, err, fields, tc.pointer)
		}
	}
}
