package caddymodule_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// The documentation is checked against the code, so that it cannot rot:
//
//   - docs/configuration.md names every JSON field of every configuration
//     struct (found from the Caddy modules of caddymodule and dialects/*),
//     and every exported configuration field has a doc comment;
//   - it names every subdirective of the Caddyfile syntax written in the
//     parsers' doc comments;
//   - every ```caddyfile block of the docs, the README and the examples'
//     READMEs adapts (a block preceded by "<!-- fragment -->" is a fragment
//     and is skipped), as does every Caddyfile under examples/ but those
//     needing other plugins;
//   - every relative link of those pages points to a file that exists, and
//     to a heading that exists when it has an anchor.
//
// .ci/examples runs the examples and the documented commands.

const repoRoot = ".."

// configPackages are the packages whose Caddy modules are configured by
// users.
func configPackages(t *testing.T) []string {
	t.Helper()
	dirs := []string{"."}
	more, err := filepath.Glob(filepath.Join(repoRoot, "dialects", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range more {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && filepath.Base(d) != "internal" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// parsedPackage is the non-test Go files of one directory.
type parsedPackage struct {
	dir   string
	types map[string]*ast.TypeSpec
	docs  map[string]*ast.CommentGroup // doc comments of types
	funcs []*ast.FuncDecl
}

func parseDir(t *testing.T, dir string) *parsedPackage {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	p := &parsedPackage{dir: dir, types: map[string]*ast.TypeSpec{}, docs: map[string]*ast.CommentGroup{}}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range af.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if ts, ok := spec.(*ast.TypeSpec); ok {
						p.types[ts.Name.Name] = ts
						p.docs[ts.Name.Name] = ts.Doc
						if ts.Doc == nil {
							p.docs[ts.Name.Name] = d.Doc
						}
					}
				}
			case *ast.FuncDecl:
				p.funcs = append(p.funcs, d)
			}
		}
	}
	return p
}

// configField is one JSON field of a configuration struct.
type configField struct {
	where string // package dir and Type.Field
	json  string
	doc   bool
}

// configFields walks the structs of p's Caddy modules (types with a
// CaddyModule method) and the struct types of the same package their fields
// use.
func configFields(t *testing.T, p *parsedPackage) []configField {
	t.Helper()
	var roots []string
	for _, fn := range p.funcs {
		if fn.Name.Name != "CaddyModule" || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		typ := fn.Recv.List[0].Type
		if star, ok := typ.(*ast.StarExpr); ok {
			typ = star.X
		}
		if id, ok := typ.(*ast.Ident); ok {
			roots = append(roots, id.Name)
		}
	}
	sort.Strings(roots)
	var out []configField
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		ts, ok := p.types[name]
		if !ok {
			return
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return
		}
		for _, f := range st.Fields.List {
			for _, n := range f.Names {
				if !n.IsExported() {
					continue
				}
				where := filepath.Base(p.dir) + ": " + name + "." + n.Name
				tag := ""
				if f.Tag != nil {
					raw, err := strconv.Unquote(f.Tag.Value)
					if err != nil {
						t.Fatalf("%s: bad tag: %v", where, err)
					}
					tag, _, _ = strings.Cut(reflect.StructTag(raw).Get("json"), ",")
				}
				if tag == "-" {
					continue
				}
				if tag == "" {
					t.Errorf("%s: exported configuration field without a json tag", where)
					continue
				}
				doc := f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != ""
				out = append(out, configField{where: where, json: tag, doc: doc})
			}
			for _, id := range typeIdents(f.Type) {
				walk(id)
			}
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

// typeIdents are the package-local type names a field type refers to.
func typeIdents(e ast.Expr) []string {
	switch x := e.(type) {
	case *ast.Ident:
		return []string{x.Name}
	case *ast.StarExpr:
		return typeIdents(x.X)
	case *ast.ArrayType:
		return typeIdents(x.Elt)
	case *ast.MapType:
		return append(typeIdents(x.Key), typeIdents(x.Value)...)
	}
	return nil
}

// codeWords are the identifiers that appear inside `code spans` of a
// markdown text.
func codeWords(md string) map[string]bool {
	words := map[string]bool{}
	for _, span := range regexp.MustCompile("`[^`\n]+`").FindAllString(md, -1) {
		for _, w := range regexp.MustCompile(`[A-Za-z0-9_]+`).FindAllString(span, -1) {
			words[w] = true
		}
	}
	return words
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocsConfigurationReference checks docs/configuration.md against the
// configuration structs and the Caddyfile parsers.
func TestDocsConfigurationReference(t *testing.T) {
	words := codeWords(readFile(t, filepath.Join(repoRoot, "docs", "configuration.md")))
	var fields, subdirectives int
	for _, dir := range configPackages(t) {
		p := parseDir(t, dir)
		for _, f := range configFields(t, p) {
			fields++
			if !f.doc {
				t.Errorf("%s (json %q): exported configuration field without a doc comment", f.where, f.json)
			}
			if !words[f.json] {
				t.Errorf("%s: JSON field %q is not in docs/configuration.md", f.where, f.json)
			}
		}
		for _, fn := range p.funcs {
			for _, sub := range caddyfileSyntax(fn) {
				subdirectives++
				if !words[sub] {
					t.Errorf("%s: %s: Caddyfile subdirective %q (from its doc comment) is not in docs/configuration.md",
						filepath.Base(dir), fn.Name.Name, sub)
				}
			}
		}
	}
	t.Logf("%d configuration fields, %d Caddyfile subdirectives", fields, subdirectives)
	// Guards against the walk silently finding nothing.
	if fields < 40 || subdirectives < 30 {
		t.Fatalf("found only %d configuration fields and %d subdirectives", fields, subdirectives)
	}
}

// caddyfileSyntax returns the directive and subdirective names of the
// syntax block in the doc comment of a Caddyfile parser (a function taking
// a caddyfile.Dispenser or an httpcaddyfile.Helper).
func caddyfileSyntax(fn *ast.FuncDecl) []string {
	if fn.Doc == nil || !takesCaddyfile(fn) {
		return nil
	}
	var out []string
	for _, line := range strings.Split(fn.Doc.Text(), "\n") {
		if !strings.HasPrefix(line, "\t") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		w := strings.TrimSuffix(fields[0], "{")
		if w == "" || strings.ContainsAny(w[:1], "#}<[.|") {
			continue
		}
		out = append(out, w)
	}
	return out
}

func takesCaddyfile(fn *ast.FuncDecl) bool {
	for _, p := range fn.Type.Params.List {
		var typ ast.Expr = p.Type
		if star, ok := typ.(*ast.StarExpr); ok {
			typ = star.X
		}
		if sel, ok := typ.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Dispenser" || sel.Sel.Name == "Helper") {
			return true
		}
	}
	return false
}

// markdownPages are the pages whose blocks and links are checked.
func markdownPages(t *testing.T) []string {
	t.Helper()
	pages := []string{filepath.Join(repoRoot, "README.md")}
	for _, pattern := range []string{"docs/*.md", "docs/*/*.md", "examples/*/README.md"} {
		more, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, more...)
	}
	return pages
}

// fencedBlocks returns the blocks of a markdown text fenced as
// ```<lang>, with the line before each fence.
func fencedBlocks(md, lang string) (blocks, before []string) {
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```"+lang {
			continue
		}
		prev := ""
		if i > 0 {
			prev = strings.TrimSpace(lines[i-1])
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		blocks = append(blocks, strings.Join(body, "\n")+"\n")
		before = append(before, prev)
	}
	return blocks, before
}

func adapt(body string) error {
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(body), nil)
	return err
}

// TestDocsCaddyfileBlocksAdapt adapts every caddyfile block of the docs.
func TestDocsCaddyfileBlocksAdapt(t *testing.T) {
	n := 0
	for _, page := range markdownPages(t) {
		blocks, before := fencedBlocks(readFile(t, page), "caddyfile")
		for i, b := range blocks {
			if before[i] == "<!-- fragment -->" {
				continue
			}
			n++
			if err := adapt(b); err != nil {
				t.Errorf("%s: caddyfile block %d does not adapt: %v\n%s", page, i+1, err, b)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d caddyfile blocks found", n)
	}
}

// TestExamplesAdapt adapts every Caddyfile under examples/ that this
// repository's modules are enough for (.ci/examples also validates and runs
// them).
func TestExamplesAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "examples", "*", "*Caddyfile"))
	if err != nil || len(files) < 10 {
		t.Fatalf("examples: %d Caddyfiles, %v", len(files), err)
	}
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) == "ratelimit" { // needs caddy-ratelimit
			continue
		}
		if err := adapt(readFile(t, f)); err != nil {
			t.Errorf("%s does not adapt: %v", f, err)
		}
	}
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	slugDrop  = regexp.MustCompile(`[^a-z0-9 _-]`)
)

// anchors are the GitHub anchors of a markdown text's headings.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	// Headings inside fenced blocks are comments, not headings.
	var text []string
	inFence := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if !inFence {
			text = append(text, line)
		}
	}
	for _, m := range mdHeading.FindAllStringSubmatch(strings.Join(text, "\n"), -1) {
		slug := slugDrop.ReplaceAllString(strings.ToLower(strings.TrimSpace(m[1])), "")
		out[strings.ReplaceAll(slug, " ", "-")] = true
	}
	return out
}

// TestDocsLinks checks the relative links of the docs.
func TestDocsLinks(t *testing.T) {
	for _, page := range markdownPages(t) {
		md := readFile(t, page)
		for _, m := range mdLink.FindAllStringSubmatch(md, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: link %q: %v", page, target, err)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(path, ".md") && !anchors(readFile(t, path))[anchor] {
				t.Errorf("%s: link %q: no heading #%s in %s", page, target, anchor, path)
			}
		}
	}
}
