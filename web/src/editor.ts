/**
 * A CodeMirror 6 editor for one cell: the session's language, Shift+Enter to
 * run, and a line decoration that marks the line an error points at.
 */
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { Compartment, EditorState, StateEffect, StateField, type Extension } from '@codemirror/state';
import { Decoration, EditorView, keymap, lineNumbers, type DecorationSet } from '@codemirror/view';
import type { Language } from '../../src/mcp/http/api-contract.js';

const setErrorLine = StateEffect.define<number | null>();
const errorLineMark = Decoration.line({ class: 'cm-error-line' });

const errorLineField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    let next = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(setErrorLine)) continue;
      const n = e.value;
      next =
        n !== null && n >= 1 && n <= tr.state.doc.lines
          ? Decoration.set([errorLineMark.range(tr.state.doc.line(n).from)])
          : Decoration.none;
    }
    // Editing clears the mark: the line it pointed at may no longer be the one.
    return tr.docChanged ? Decoration.none : next;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** Grammars load on first use, so the first paint does not wait for them (and bash needs none). */
const grammars = new Map<Language, Promise<Extension>>();
function languageSupport(lang: Language): Promise<Extension> {
  let p = grammars.get(lang);
  if (!p) {
    if (lang === 'python') p = import('@codemirror/lang-python').then((m) => m.python());
    else if (lang === 'javascript') p = import('@codemirror/lang-javascript').then((m) => m.javascript());
    else if (lang === 'typescript')
      p = import('@codemirror/lang-javascript').then((m) => m.javascript({ typescript: true }));
    else p = Promise.resolve([]);
    grammars.set(lang, p);
  }
  return p;
}

export interface CellEditor {
  view: EditorView;
  code(): string;
  setCode(code: string): void;
  markErrorLine(line: number | null): void;
  focus(): void;
}

export function createEditor(parent: HTMLElement, lang: Language, code: string, onRun: () => void): CellEditor {
  const grammar = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: code,
      extensions: [
        keymap.of([
          {
            key: 'Shift-Enter',
            run: () => {
              onRun();
              return true;
            },
          },
          indentWithTab,
          ...defaultKeymap,
          ...historyKeymap,
        ]),
        lineNumbers(),
        history(),
        indentOnInput(),
        bracketMatching(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        grammar.of([]),
        errorLineField,
        EditorView.lineWrapping,
      ],
    }),
  });
  void languageSupport(lang).then(
    (ext) => view.dispatch({ effects: grammar.reconfigure(ext) }),
    () => undefined, // without its grammar the editor still works, just uncoloured
  );
  return {
    view,
    code: () => view.state.doc.toString(),
    setCode: (c) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: c } }),
    markErrorLine: (line) => view.dispatch({ effects: setErrorLine.of(line) }),
    focus: () => view.focus(),
  };
}
