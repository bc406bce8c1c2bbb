package render

import (
	"bytes"
	"strconv"
	"strings"
	"text/template/parse"
)

// The fast path. Executing a text/template costs reflection: ~5-10 µs and
// 20-60 allocations for a short SMS, too much for ~200k messages per run. New
// therefore compiles each template's parse tree, when it uses only the
// constructs below, into a small typed program over View and ItemView:
//
//	text; {{.Field}} {{$.Field}} {{$var}} {{$var.Field}} {{.}}; string and number constants
//	{{if X}} {{else if X}} {{else}} {{end}} where X is a value (text/template
//	  truth), not X, or eq/ne/lt/le/gt/ge of two ints or two strings
//	{{range .Items}} / {{range .Totals}} with 0, 1 or 2 declared variables and {{else}}
//	comments
//
// Anything else ({{with}}, {{template}}, pipelines, other functions, variable
// assignment, break/continue) makes the template run on text/template, which
// stays the reference: New renders every sample both ways and uses the
// program only when the texts are identical (tests compare them on random
// messages too).

// Value types of the fast path.
type valType int8

const (
	tNone valType = iota
	tString
	tInt
	tBool
	tItems  // []ItemView
	tTotals // []string
	tView   // View
	tItem   // ItemView
)

// Where an operand comes from.
const (
	srcDot int8 = iota
	srcRoot
	srcVar
	srcConst
)

// Field ids of View and ItemView.
const (
	fSelf int8 = iota // the value itself, no field
	fSignature
	fOptOut
	fName
	fCount
	fItems
	fTotals
	fTotal
	fMultiCurrency
	fAccount
	fSeq
	fDueDate
	fAmount
	fDaysOverdue
	fDaysUntilDue
	fStage
	fOverdue
	fDueToday
)

// fieldOf returns the id and type of a field of a View or ItemView.
func fieldOf(owner valType, name string) (int8, valType, bool) {
	switch owner {
	case tView:
		switch name {
		case "Signature":
			return fSignature, tString, true
		case "OptOut":
			return fOptOut, tString, true
		case "Name":
			return fName, tString, true
		case "Count":
			return fCount, tInt, true
		case "Items":
			return fItems, tItems, true
		case "Totals":
			return fTotals, tTotals, true
		case "Total":
			return fTotal, tString, true
		case "MultiCurrency":
			return fMultiCurrency, tBool, true
		}
	case tItem:
		switch name {
		case "Account":
			return fAccount, tString, true
		case "Seq":
			return fSeq, tInt, true
		case "DueDate":
			return fDueDate, tString, true
		case "Amount":
			return fAmount, tString, true
		case "DaysOverdue":
			return fDaysOverdue, tInt, true
		case "DaysUntilDue":
			return fDaysUntilDue, tInt, true
		case "Stage":
			return fStage, tString, true
		case "Overdue":
			return fOverdue, tBool, true
		case "DueToday":
			return fDueToday, tBool, true
		}
	}
	return 0, tNone, false
}

type operand struct {
	src   int8
	slot  int8
	field int8
	typ   valType
	str   string // constant
	num   int    // constant
}

// Comparisons of an if; cmpTruth tests one operand.
const (
	cmpTruth int8 = iota
	cmpNot
	cmpEq
	cmpNe
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// Instructions.
const (
	opText int8 = iota
	opPrint
	opIf
	opRange
)

type instr struct {
	op        int8
	text      []byte
	a, b      operand
	cmp       int8
	body, els []instr
	idx, elem int8 // range variable slots, -1 when not declared
	elemType  valType
}

// program is a compiled template.
type program []instr

const maxSlots = 8

// compiler holds the static state while compiling one template.
type compiler struct {
	dot   valType
	vars  []compVar // in scope, innermost last
	slots int8
}

type compVar struct {
	name string
	slot int8
	typ  valType
}

// compile returns the program for tree, or nil when tree uses something
// the fast path does not implement.
func compile(tree *parse.Tree) program {
	if tree == nil || tree.Root == nil {
		return nil
	}
	c := &compiler{dot: tView}
	p, ok := c.list(tree.Root)
	if !ok {
		return nil
	}
	if p == nil {
		p = program{}
	}
	return p
}

func (c *compiler) list(l *parse.ListNode) ([]instr, bool) {
	if l == nil {
		return nil, true
	}
	var out []instr
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			out = append(out, instr{op: opText, text: n.Text})
		case *parse.CommentNode:
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
				return nil, false
			}
			a, ok := c.operand(n.Pipe.Cmds[0].Args[0])
			if !ok || (a.typ != tString && a.typ != tInt && a.typ != tBool) {
				return nil, false
			}
			out = append(out, instr{op: opPrint, a: a})
		case *parse.IfNode:
			in, ok := c.cond(n.Pipe)
			if !ok {
				return nil, false
			}
			if in.body, ok = c.list(n.List); !ok {
				return nil, false
			}
			if in.els, ok = c.list(n.ElseList); !ok {
				return nil, false
			}
			out = append(out, in)
		case *parse.RangeNode:
			in, ok := c.rangeNode(n)
			if !ok {
				return nil, false
			}
			out = append(out, in)
		default: // with, template, break, continue, …
			return nil, false
		}
	}
	return out, true
}

func (c *compiler) cond(p *parse.PipeNode) (instr, bool) {
	in := instr{op: opIf}
	if len(p.Decl) > 0 || len(p.Cmds) != 1 {
		return in, false
	}
	args := p.Cmds[0].Args
	if len(args) == 1 {
		a, ok := c.operand(args[0])
		in.a, in.cmp = a, cmpTruth
		return in, ok
	}
	fn, ok := args[0].(*parse.IdentifierNode)
	if !ok {
		return in, false
	}
	switch {
	case fn.Ident == "not" && len(args) == 2:
		a, ok := c.operand(args[1])
		in.a, in.cmp = a, cmpNot
		return in, ok
	case len(args) != 3:
		return in, false
	}
	switch fn.Ident {
	case "eq":
		in.cmp = cmpEq
	case "ne":
		in.cmp = cmpNe
	case "lt":
		in.cmp = cmpLt
	case "le":
		in.cmp = cmpLe
	case "gt":
		in.cmp = cmpGt
	case "ge":
		in.cmp = cmpGe
	default:
		return in, false
	}
	a, ok1 := c.operand(args[1])
	b, ok2 := c.operand(args[2])
	if !ok1 || !ok2 || a.typ != b.typ || (a.typ != tInt && a.typ != tString) {
		return in, false
	}
	in.a, in.b = a, b
	return in, true
}

func (c *compiler) rangeNode(n *parse.RangeNode) (instr, bool) {
	in := instr{op: opRange, idx: -1, elem: -1}
	p := n.Pipe
	if p.IsAssign || len(p.Decl) > 2 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return in, false
	}
	a, ok := c.operand(p.Cmds[0].Args[0])
	if !ok {
		return in, false
	}
	switch a.typ {
	case tItems:
		in.elemType = tItem
	case tTotals:
		in.elemType = tString
	default:
		return in, false
	}
	in.a = a
	saveDot, saveVars, saveSlots := c.dot, len(c.vars), c.slots
	defer func() { c.dot, c.vars, c.slots = saveDot, c.vars[:saveVars], saveSlots }()

	// The else branch runs with the outer dot; text/template has already
	// bound the declared variables to the (empty) slice there, which the fast
	// path does not model: shadow them so that using one falls back.
	for _, v := range p.Decl {
		c.vars = append(c.vars, compVar{name: v.Ident[0], typ: tNone})
	}
	var els []instr
	if els, ok = c.list(n.ElseList); !ok {
		return in, false
	}
	in.els = els
	c.vars = c.vars[:saveVars]
	declare := func(v *parse.VariableNode, typ valType) (int8, bool) {
		if len(v.Ident) != 1 || c.slots >= maxSlots {
			return -1, false
		}
		c.vars = append(c.vars, compVar{name: v.Ident[0], slot: c.slots, typ: typ})
		c.slots++
		return c.slots - 1, true
	}
	switch len(p.Decl) {
	case 1:
		if in.elem, ok = declare(p.Decl[0], in.elemType); !ok {
			return in, false
		}
	case 2:
		if in.idx, ok = declare(p.Decl[0], tInt); !ok {
			return in, false
		}
		if in.elem, ok = declare(p.Decl[1], in.elemType); !ok {
			return in, false
		}
	}
	c.dot = in.elemType
	if in.body, ok = c.list(n.List); !ok {
		return in, false
	}
	return in, true
}

// operand compiles a value: a field of dot, dot, a variable, a field of a
// variable, or a constant.
func (c *compiler) operand(n parse.Node) (operand, bool) {
	switch n := n.(type) {
	case *parse.DotNode:
		return operand{src: srcDot, field: fSelf, typ: c.dot}, true
	case *parse.FieldNode:
		if len(n.Ident) != 1 {
			return operand{}, false
		}
		f, typ, ok := fieldOf(c.dot, n.Ident[0])
		return operand{src: srcDot, field: f, typ: typ}, ok
	case *parse.VariableNode:
		if len(n.Ident) > 2 {
			return operand{}, false
		}
		o := operand{field: fSelf}
		if n.Ident[0] == "$" {
			o.src, o.typ = srcRoot, tView
		} else {
			found := false
			for i := len(c.vars) - 1; i >= 0; i-- {
				if c.vars[i].name == n.Ident[0] {
					o.src, o.slot, o.typ, found = srcVar, c.vars[i].slot, c.vars[i].typ, true
					break
				}
			}
			if !found || o.typ == tNone {
				return operand{}, false
			}
		}
		if len(n.Ident) == 2 {
			f, typ, ok := fieldOf(o.typ, n.Ident[1])
			if !ok {
				return operand{}, false
			}
			o.field, o.typ = f, typ
		}
		return o, true
	case *parse.StringNode:
		return operand{src: srcConst, typ: tString, str: n.Text}, true
	case *parse.NumberNode:
		// text/template reads 1.0 or 1e3 as a float: leave those to it.
		if !n.IsInt || strings.ContainsAny(n.Text, ".eEpP") || n.Int64 != int64(int(n.Int64)) {
			return operand{}, false
		}
		return operand{src: srcConst, typ: tInt, num: int(n.Int64)}, true
	}
	return operand{}, false
}

// frame is the run-time state of one execution.
type frame struct {
	view  *View
	item  *ItemView // dot when it is an item
	str   string    // dot when it is a total
	slots [maxSlots]struct {
		n    int
		item *ItemView
		s    string
	}
	num [24]byte
}

// value is an evaluated operand: s for strings, n for ints, bools (0/1) and
// lengths of slices.
type value struct {
	s string
	n int
}

func (f *frame) eval(o *operand) value {
	var item *ItemView
	var view *View
	switch o.src {
	case srcConst:
		return value{s: o.str, n: o.num}
	case srcRoot:
		view = f.view
	case srcDot:
		switch o.field {
		case fSelf:
			if o.typ == tString {
				return value{s: f.str}
			}
		case fSignature, fOptOut, fName, fCount, fItems, fTotals, fTotal, fMultiCurrency:
			view = f.view
		default:
			item = f.item
		}
	case srcVar:
		sl := &f.slots[o.slot]
		if o.field == fSelf {
			switch o.typ {
			case tInt:
				return value{n: sl.n}
			case tString:
				return value{s: sl.s}
			}
		}
		item = sl.item
	}
	switch o.field {
	case fSignature:
		return value{s: view.Signature}
	case fOptOut:
		return value{s: view.OptOut}
	case fName:
		return value{s: view.Name}
	case fCount:
		return value{n: view.Count}
	case fItems:
		return value{n: len(view.Items)}
	case fTotals:
		return value{n: len(view.Totals)}
	case fTotal:
		return value{s: view.Total}
	case fMultiCurrency:
		return value{n: b2i(view.MultiCurrency)}
	case fAccount:
		return value{s: item.Account}
	case fSeq:
		return value{n: item.Seq}
	case fDueDate:
		return value{s: item.DueDate}
	case fAmount:
		return value{s: item.Amount}
	case fDaysOverdue:
		return value{n: item.DaysOverdue}
	case fDaysUntilDue:
		return value{n: item.DaysUntilDue}
	case fStage:
		return value{s: item.Stage}
	case fOverdue:
		return value{n: b2i(item.Overdue)}
	case fDueToday:
		return value{n: b2i(item.DueToday)}
	}
	return value{n: 1} // a View or ItemView itself: always true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// truth is text/template's truth of a value of type t.
func truth(t valType, v value) bool {
	if t == tString {
		return v.s != ""
	}
	return v.n != 0
}

func (f *frame) run(p []instr, w *bytes.Buffer) {
	for i := range p {
		in := &p[i]
		switch in.op {
		case opText:
			w.Write(in.text)
		case opPrint:
			v := f.eval(&in.a)
			switch in.a.typ {
			case tString:
				w.WriteString(v.s)
			case tInt:
				w.Write(strconv.AppendInt(f.num[:0], int64(v.n), 10))
			case tBool:
				w.WriteString(strconv.FormatBool(v.n != 0))
			}
		case opIf:
			if f.test(in) {
				f.run(in.body, w)
			} else {
				f.run(in.els, w)
			}
		case opRange:
			f.runRange(in, w)
		}
	}
}

func (f *frame) test(in *instr) bool {
	a := f.eval(&in.a)
	switch in.cmp {
	case cmpTruth:
		return truth(in.a.typ, a)
	case cmpNot:
		return !truth(in.a.typ, a)
	}
	b := f.eval(&in.b)
	c := 0
	if in.a.typ == tString {
		switch {
		case a.s < b.s:
			c = -1
		case a.s > b.s:
			c = 1
		}
	} else {
		switch {
		case a.n < b.n:
			c = -1
		case a.n > b.n:
			c = 1
		}
	}
	switch in.cmp {
	case cmpEq:
		return c == 0
	case cmpNe:
		return c != 0
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	}
	return c >= 0 // cmpGe
}

func (f *frame) runRange(in *instr, w *bytes.Buffer) {
	var view *View
	switch in.a.src {
	case srcRoot, srcDot: // only a View has Items and Totals
		view = f.view
	}
	saveItem, saveStr := f.item, f.str
	defer func() { f.item, f.str = saveItem, saveStr }()
	if in.a.typ == tItems {
		if len(view.Items) == 0 {
			f.run(in.els, w)
			return
		}
		for i := range view.Items {
			it := &view.Items[i]
			if in.idx >= 0 {
				f.slots[in.idx].n = i
			}
			if in.elem >= 0 {
				f.slots[in.elem].item = it
			}
			f.item = it
			f.run(in.body, w)
		}
		return
	}
	if len(view.Totals) == 0 {
		f.run(in.els, w)
		return
	}
	for i, s := range view.Totals {
		if in.idx >= 0 {
			f.slots[in.idx].n = i
		}
		if in.elem >= 0 {
			f.slots[in.elem].s = s
		}
		f.str = s
		f.run(in.body, w)
	}
}
