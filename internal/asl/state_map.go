package asl

import (
	"context"
	"maps"
)

// mapState runs its item processor once per element of an array in the
// input, at most MaxConcurrency at a time; its result is the array of the
// iterations' outputs, in item order (spec "Map State"; developer guide
// "Map state in Inline mode"). Distributed mode is not supported.
type mapState struct {
	stateCommon
	itemsPath      optPath
	itemSelector   *payloadTemplate
	processor      *branch
	maxConcurrency int
	maxConcPath    *compiledPath
}

func (p *parser) mapState(o *obj, c stateCommon) *mapState {
	s := &mapState{stateCommon: c}
	o.io(&s.stateCommon)
	o.transition(&s.stateCommon)
	s.resultPath = o.path("ResultPath", true, true)
	s.selector = o.template("ResultSelector")
	s.itemsPath = o.path("ItemsPath", false, true)
	switch {
	case o.has("ItemSelector") && o.has("Parameters"):
		o.get("Parameters")
		o.errorf("Parameters", "ItemSelector and its legacy name Parameters are mutually exclusive")
	case o.has("ItemSelector"):
		s.itemSelector = o.template("ItemSelector")
	case o.has("Parameters"):
		s.itemSelector = o.template("Parameters")
	}
	for _, k := range []string{"ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailurePercentage",
		"ToleratedFailureCount", "ToleratedFailurePercentagePath", "ToleratedFailureCountPath", "Label"} {
		if o.has(k) {
			o.get(k)
			o.errorf(k, "Distributed Map fields are not supported yet")
		}
	}
	if o.has("MaxConcurrency") {
		if f, ok := o.number("MaxConcurrency"); ok {
			if f < 0 || f != float64(int64(f)) {
				o.errorf("MaxConcurrency", "must be a non-negative integer")
			}
			s.maxConcurrency = int(f)
		}
	}
	s.maxConcPath = o.optionalPath("MaxConcurrencyPath", true)
	where := o.where
	var procField string
	switch {
	case o.has("ItemProcessor") && o.has("Iterator"):
		o.get("Iterator")
		o.errorf("Iterator", "ItemProcessor and its legacy name Iterator are mutually exclusive")
		procField = "ItemProcessor"
	case o.has("ItemProcessor"):
		procField = "ItemProcessor"
	case o.has("Iterator"):
		procField = "Iterator"
	default:
		o.errorf("ItemProcessor", "is required")
	}
	if procField != "" {
		if m, ok := o.objectField(procField); ok {
			po := p.object(where+", "+procField, m)
			po.str("Comment")
			p.queryLanguage(po)
			if pc, ok := po.objectField("ProcessorConfig"); ok {
				co := p.object(po.where+", ProcessorConfig", pc)
				if mode := co.str("Mode"); mode != "" && mode != "INLINE" {
					co.errorf("Mode", "%s mode is not supported yet (only INLINE)", mode)
				}
				co.str("ExecutionType")
				co.done()
			}
			s.processor = p.branch(po.where, po)
			po.done()
		}
	}
	s.retry = p.retriers(o)
	s.catch = p.catchers(o)
	return s
}

func (s *mapState) attempt(ctx context.Context, x *Execution, th *thread) (any, *Failure, error) {
	if th.Task != nil && th.Task.Phase == phaseSucceeded {
		return finishResult(s.stateCommon, x, th, th.Task.Result)
	}
	cobj := x.contextObject(th, &s.stateCommon)
	limit := s.maxConcurrency
	if th.Fanout == nil {
		in, f := applyInputPath(s.inputPath, th.Input, cobj)
		if f != nil {
			return nil, f, nil
		}
		items, f := pathValue(s.itemsPath.p, "ItemsPath", in, cobj)
		if f != nil {
			return nil, f, nil
		}
		arr, ok := items.([]any)
		if !ok {
			return nil, fail(ErrRuntime, "Invalid path '%s': the ItemsPath must reference a JSON array, got %s", s.itemsPath.p.String(), jsonString(items)), nil
		}
		fo := &fanout{Children: make([]*thread, len(arr)), Started: make([]bool, len(arr))}
		for i, item := range arr {
			child := &thread{State: s.processor.startAt, Input: item, MapItem: &mapItem{Index: i, Value: item}}
			if s.itemSelector != nil {
				// The Map state's own context object, with $$.Map.Item.
				var ictx map[string]any
				if cobj != nil {
					ictx = maps.Clone(cobj)
					ictx["Map"] = child.MapItem.contextObject()
				}
				v, f := s.itemSelector.eval(in, ictx)
				if f != nil {
					return nil, f, nil
				}
				child.Input = v
			}
			fo.Children[i] = child
		}
		x.mutate(func() {
			x.emitLocked(th, "MapStateStarted", "mapStateStartedEventDetails", []field{num("length", len(arr))})
			th.Fanout = fo
		})
	}
	if s.maxConcPath != nil {
		in, f := applyInputPath(s.inputPath, th.Input, cobj)
		if f != nil {
			return nil, f, nil
		}
		v, f := pathValue(s.maxConcPath, "MaxConcurrencyPath", in, cobj)
		if f != nil {
			return nil, f, nil
		}
		n, ok := toFloat(v)
		if !ok || n < 0 || n != float64(int64(n)) {
			return nil, fail(ErrRuntime, "MaxConcurrencyPath must reference a non-negative integer, got %s", jsonString(v)), nil
		}
		limit = int(n)
	}
	fo := th.Fanout
	onStart := func(i int, c *thread) {
		if fo.Started != nil && fo.Started[i] {
			return
		}
		x.mutate(func() {
			c.LastEvent = th.LastEvent
			x.emitLocked(c, "MapIterationStarted", "mapIterationStartedEventDetails", []field{str("name", s.name), num("index", i)})
			if fo.Started != nil {
				fo.Started[i] = true
			}
		})
	}
	onEnd := func(i int, c *thread, f *Failure) {
		typ, key := "MapIterationSucceeded", "mapIterationSucceededEventDetails"
		if f != nil {
			typ, key = "MapIterationFailed", "mapIterationFailedEventDetails"
		}
		x.mutate(func() {
			x.emitAside(c.LastEvent, typ, key, []field{str("name", s.name), num("index", i)})
			th.LastEvent = c.LastEvent
		})
	}
	f, failed, err := x.runChildren(ctx, fo, func(int) *branch { return s.processor }, limit, onStart, onEnd)
	if err != nil {
		return nil, nil, err
	}
	if f != nil {
		x.mutate(func() {
			th.LastEvent = fo.Children[failed].LastEvent
			th.Fanout = nil
		})
		return nil, f, nil
	}
	results := make([]any, len(fo.Children))
	for i, c := range fo.Children {
		results[i] = c.Output
	}
	x.mutate(func() {
		th.LastEvent = int64(len(x.history))
		x.emitAside(th.LastEvent, "MapStateSucceeded", "", nil)
		th.Fanout = nil
		th.Task = &taskProgress{Phase: phaseSucceeded, Result: results}
	})
	return finishResult(s.stateCommon, x, th, results)
}
