package docstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/basaltdev/basalt/internal/fault"
)

// Batch applies ops in one transaction: all or nothing. Each operation is
// checked against the access rules exactly like the single-document call;
// any refusal rolls the whole batch back. Errors point at the failing
// operation ("/operations/3/data/title").
func (s *Service) Batch(ctx context.Context, ops []BatchOp, idempotencyKey string) ([]BatchResult, error) {
	const op = "docstore.Batch"
	c := callerOf(ctx)
	if len(ops) == 0 {
		return nil, fault.New(fault.Invalid, op, "a batch needs at least one operation")
	}
	if len(ops) > s.limits.MaxBatchOps {
		// A size limit like the body's, answered the same way: split the batch.
		return nil, &fault.Error{Kind: fault.PayloadTooLarge, Op: op,
			Msg:    fmt.Sprintf("a batch has at most %d operations", s.limits.MaxBatchOps),
			Fields: []fault.FieldError{{Pointer: "/operations", Message: fmt.Sprintf("has %d operations", len(ops))}}}
	}
	// Check everything that does not depend on stored state first, so a
	// bad batch is refused before the transaction starts.
	prepared := make([]preparedWrite, len(ops))
	canon := make([][]byte, len(ops))
	for i, o := range ops {
		prefix := fmt.Sprintf("/operations/%d", i)
		if err := checkCollectionName(op, o.Collection); err != nil {
			return nil, at(err, prefix+"/collection")
		}
		if act, ok := batchAction(o.Op); ok {
			if err := c.scope(op, o.Collection, act); err != nil {
				return nil, at(err, prefix)
			}
		}
		switch o.Op {
		case OpCreate:
			w, err := s.prepareCreate(ctx, op, prefix+"/data", c, o.Collection, o.ID, o.Data)
			if err != nil {
				return nil, at(err, prefix)
			}
			prepared[i], canon[i] = w, w.canon
		case OpReplace:
			if err := checkDocumentID(op, o.ID); err != nil {
				return nil, at(err, prefix+"/id")
			}
			w, err := s.prepareData(ctx, op, prefix+"/data", c, actUpdate, o.Collection, o.ID, o.Data)
			if err != nil {
				return nil, at(err, prefix)
			}
			prepared[i], canon[i] = w, w.canon
		case OpPatch:
			if err := checkDocumentID(op, o.ID); err != nil {
				return nil, at(err, prefix+"/id")
			}
			if o.Data == nil {
				return nil, at(fault.New(fault.Invalid, op, "a patch operation needs a data object (the merge patch)"), prefix+"/data")
			}
			c, err := canonicalJSON(o.Data)
			if err != nil {
				return nil, at(fault.Wrap(fault.Invalid, op, err, "invalid patch"), prefix+"/data")
			}
			canon[i] = c
		case OpDelete:
			if err := checkDocumentID(op, o.ID); err != nil {
				return nil, at(err, prefix+"/id")
			}
			if o.Data != nil {
				return nil, at(fault.New(fault.Invalid, op, "a delete operation takes no data"), prefix+"/data")
			}
		default:
			return nil, at(fault.Newf(fault.Invalid, op, "unknown operation %q (want create, replace, patch or delete)", truncate(string(o.Op), 40)), prefix+"/op")
		}
	}
	// Every operation's event carries the batch's id. A retry of the
	// transaction keeps it; an idempotent replay writes no events.
	batchID, err := newEventID(op)
	if err != nil {
		return nil, err
	}
	req := request{Op: "batch", Body: batchHash(ops, canon)}
	results, err := idempotent(ctx, s, op, idempotencyKey, req, func(tx Tx) ([]BatchResult, error) {
		tx = batchTx{Tx: tx, batchID: batchID}
		results := make([]BatchResult, len(ops))
		for i, o := range ops {
			prefix := fmt.Sprintf("/operations/%d", i)
			var (
				d   Document
				err error
			)
			switch o.Op {
			case OpCreate:
				d, err = s.applyCreate(ctx, op, tx, c, prepared[i])
			case OpReplace:
				d, err = s.applyReplace(ctx, op, tx, c, prepared[i], Version(o.IfMatch))
			case OpPatch:
				d, err = s.applyPatch(ctx, op, prefix+"/data", tx, c, o.Collection, o.ID, o.Data, Version(o.IfMatch))
			case OpDelete:
				err = s.applyDelete(ctx, op, tx, c, o.Collection, o.ID, Version(o.IfMatch))
				d.ID = o.ID
			}
			if err != nil {
				return nil, at(err, prefix)
			}
			results[i] = BatchResult{Op: o.Op, ID: d.ID}
			if o.Op != OpDelete {
				doc := d
				results[i].Document = &doc
			}
		}
		return results, nil
	})
	if err != nil {
		return nil, err
	}
	for i := range results {
		if d := results[i].Document; d != nil {
			shown, err := s.shownAfterWrite(ctx, op, c, d.Collection, *d)
			if err != nil {
				return nil, err
			}
			results[i].Document = &shown
		}
	}
	return results, nil
}

// batchAction is the rule action of a batch operation.
func batchAction(o Operation) (int, bool) {
	switch o {
	case OpCreate:
		return actCreate, true
	case OpReplace, OpPatch:
		return actUpdate, true
	case OpDelete:
		return actDelete, true
	}
	return 0, false
}

// at says which operation of a batch an error is about: it prefixes the
// error's message and, when the error has no pointer of its own, adds one.
func at(err error, pointer string) error {
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind == fault.Internal {
		return err
	}
	out := *fe
	out.Msg = pointer + ": " + fe.Msg
	if len(out.Fields) == 0 {
		out.Fields = []fault.FieldError{{Pointer: pointer, Message: fe.Msg}}
	}
	return &out
}

func batchHash(ops []BatchOp, canon [][]byte) []byte {
	var b []byte
	for i, o := range ops {
		b = fmt.Appendf(b, "%s|%s|%s|%d|%d:%s\n", o.Op, o.Collection, o.ID, o.IfMatch, len(canon[i]), canon[i])
	}
	return b
}
