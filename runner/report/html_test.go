package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// An element of the page, with what the test looks at.
type htmlElem struct {
	name, id, class, href, src string
	text                       string // the text inside it, all of it
	parent                     *htmlElem
}

// parseHTML reads the page as XML, strictly: it must be well-formed.
func parseHTML(t *testing.T, page []byte) []*htmlElem {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = true
	var all, open []*htmlElem
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page is not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &htmlElem{name: tok.Name.Local}
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "id":
					e.id = a.Value
				case "class":
					e.class = a.Value
				case "href":
					e.href = a.Value
				case "src":
					e.src = a.Value
				}
			}
			if len(open) > 0 {
				e.parent = open[len(open)-1]
			}
			all, open = append(all, e), append(open, e)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			for _, e := range open {
				e.text += string(tok)
			}
		}
	}
	if len(open) != 0 {
		t.Fatalf("%d elements left open", len(open))
	}
	return all
}

func TestHTML(t *testing.T) {
	for _, test := range []struct {
		name  string
		pairs []Pair
	}{
		{"constructed", PairsOf(append(results(), reasonResults()...))},
		{"recorded", Pairs(readFixture(t, "all.json").Records)},
	} {
		t.Run(test.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteHTML(&buf, "kmodcheck <&>", test.pairs); err != nil {
				t.Fatal(err)
			}
			elems := parseHTML(t, buf.Bytes())
			byID := map[string]*htmlElem{}
			for _, e := range elems {
				if e.id != "" {
					byID[e.id] = e
				}
				// Self-contained: no script, nothing fetched.
				if e.name == "script" || e.name == "link" || e.name == "iframe" || e.src != "" ||
					e.href != "" && !strings.HasPrefix(e.href, "#") {
					t.Errorf("<%s href=%q src=%q>: the page must need nothing else", e.name, e.href, e.src)
				}
			}
			table := NewTable(test.pairs)
			links := 0
			for _, e := range elems {
				if e.name != "a" || e.parent == nil || e.parent.name != "td" {
					continue
				}
				links++
				target := byID[strings.TrimPrefix(e.href, "#")]
				if target == nil || target.name != "section" {
					t.Errorf("cell %q links to %q, which is no section", e.text, e.href)
					continue
				}
				if e.text != "FAIL" {
					continue
				}
				// A failing cell's section has its reason, and its diff
				// when a golden differed, coloured line by line.
				var p Pair
				for _, f := range table.Failures() {
					if CellID(f.Case.Case, f.Case.Kernel) == target.id {
						p = f
					}
				}
				if p.Case.Status != "FAIL" {
					t.Errorf("FAIL cell %s is no failing pair's", e.href)
					continue
				}
				if !strings.Contains(target.text, ReasonLine(p)) {
					t.Errorf("section %s lacks the reason %q", target.id, ReasonLine(p))
				}
				if p.Diff() == "" {
					continue
				}
				var adds, dels int
				for _, d := range elems {
					if d.parent != nil && d.parent.class == "diff" && inside(d, target) {
						adds += bool2int(d.class == "add")
						dels += bool2int(d.class == "del")
					}
				}
				if adds == 0 || dels == 0 {
					t.Errorf("section %s: diff with %d added and %d removed lines coloured", target.id, adds, dels)
				}
			}
			if want := len(test.pairs); links != want {
				t.Errorf("%d cells link to a section, want %d", links, want)
			}
			if !strings.Contains(buf.String(), "<title>kmodcheck &lt;&amp;&gt;</title>") {
				t.Error("the title is not escaped")
			}
		})
	}
}

func inside(e, ancestor *htmlElem) bool {
	for ; e != nil; e = e.parent {
		if e == ancestor {
			return true
		}
	}
	return false
}

func bool2int(b bool) int {
	if b {
		return 1
	}
	return 0
}
