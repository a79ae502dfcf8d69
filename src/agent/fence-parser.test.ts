import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { languageOfTag, parseCodeBlocks, parseTextAction } from './fence-parser.js';

const codes = (text: string, lang: 'python' | 'javascript' | 'bash' = 'python') =>
  parseCodeBlocks(text, lang).map((b) => [b.language, b.code]);

describe('parseCodeBlocks', () => {
  it('reads a plain python fence', () => {
    assert.deepEqual(codes('Let me compute.\n```python\nx = 1\nprint(x)\n```\nDone.'), [['python', 'x = 1\nprint(x)']]);
  });
  it('takes the default language for an untagged fence', () => {
    assert.deepEqual(codes('```\nprint(2)\n```', 'python'), [['python', 'print(2)']]);
    assert.deepEqual(codes('```\nconsole.log(2)\n```', 'javascript'), [['javascript', 'console.log(2)']]);
  });
  it('accepts tildes and longer fences, closing only on a fence at least as long', () => {
    assert.deepEqual(codes('~~~py\na = 1\n~~~'), [['python', 'a = 1']]);
    assert.deepEqual(codes('````python\ns = """\n```\n"""\n````'), [['python', 's = """\n```\n"""']]);
    assert.deepEqual(codes('~~~~\nx = "```"\n~~~~'), [['python', 'x = "```"']]);
  });
  it('understands tag variants: case, braces, attributes, file names, dots', () => {
    for (const tag of ['Python', 'py3', '{python}', 'python title="a.py"', 'main.py', '.py', 'ipython3', 'python3 '])
      assert.deepEqual(codes(`\`\`\`${tag}\nx = 1\n\`\`\``, 'bash'), [['python', 'x = 1']], tag);
    assert.equal(languageOfTag('js'), 'javascript');
    assert.equal(languageOfTag('tsx'), 'typescript');
    assert.equal(languageOfTag('sh'), 'bash');
    assert.equal(languageOfTag('json'), null);
    assert.equal(languageOfTag('cobol'), undefined);
  });
  it('marks data and output blocks as not code', () => {
    const blocks = parseCodeBlocks('```output\n42\n```\n```json\n{"a": 1}\n```\n```text\nhi\n```', 'python');
    assert.deepEqual(
      blocks.map((b) => b.language),
      [null, null, null],
    );
  });
  it('finds several blocks in order, with prose between', () => {
    const text = 'First:\n```python\na = 1\n```\nthen\n```python\nb = a + 1\n```\n';
    assert.deepEqual(codes(text), [
      ['python', 'a = 1'],
      ['python', 'b = a + 1'],
    ]);
  });
  it('keeps an unclosed fence at the end (cut-off output)', () => {
    const [b] = parseCodeBlocks('```python\nprint("half', 'python');
    assert.equal(b?.code, 'print("half');
    assert.equal(b?.closed, false);
  });
  it('dedents fences inside list items', () => {
    assert.deepEqual(codes('1. Run this:\n   ```python\n   for i in range(2):\n       print(i)\n   ```'), [
      ['python', 'for i in range(2):\n    print(i)'],
    ]);
  });
  it('opens a fence after text on the same line and closes on code ending with the fence', () => {
    assert.deepEqual(codes('Code: ```py\nprint(1)\n```'), [['python', 'print(1)']]);
    assert.deepEqual(codes('```python\nprint(1)```'), [['python', 'print(1)']]);
  });
  it('reads one-line blocks, tagged or not', () => {
    assert.deepEqual(codes('```print(1)```'), [['python', 'print(1)']]);
    assert.deepEqual(codes('```bash ls -la```', 'python'), [['bash', 'ls -la']]);
  });
  it('handles the smolagents <end_code> marker and CRLF line ends', () => {
    assert.deepEqual(codes('Code:\n```py\nx = 2\n```<end_code>'), [['python', 'x = 2']]);
    assert.deepEqual(codes('```python\r\nx = 3\r\n```\r\n'), [['python', 'x = 3']]);
  });
  it('strips REPL prompts only when the whole block is a pasted session', () => {
    assert.deepEqual(codes('```python\n>>> x = 1\n>>> print(x)\n1\n```'), [['python', 'x = 1\nprint(x)']]);
    assert.deepEqual(codes('```python\nprint(">>> not a prompt")\n```'), [['python', 'print(">>> not a prompt")']]);
    assert.deepEqual(codes('```console\n$ ls\n$ pwd\n```', 'python'), [['bash', 'ls\npwd']]);
  });
  it('ignores inline backticks in prose and returns nothing for text without fences', () => {
    assert.deepEqual(codes('use `x` and ``y`` here, and a ```mid``` sentence'), []);
    assert.deepEqual(codes('no code at all'), []);
    assert.deepEqual(codes(''), []);
  });
  it('keeps blank lines and indentation inside a block', () => {
    assert.deepEqual(codes('```python\ndef f():\n\n    return 1\n```'), [['python', 'def f():\n\n    return 1']]);
  });
});

describe('parseTextAction', () => {
  it('joins the runnable blocks of the session language', () => {
    const a = parseTextAction('```python\na = 1\n```\n```python\nprint(a)\n```', 'python');
    assert.equal(a.code, 'a = 1\n\nprint(a)');
    assert.equal(a.finalAnswer, null);
  });
  it('reports blocks of another language as skipped and never runs output blocks', () => {
    const a = parseTextAction('```bash\npip install x\n```\n```output\n1\n```\n```py\nimport x\n```', 'python');
    assert.equal(a.code, 'import x');
    assert.deepEqual(
      a.skipped.map((b) => b.language),
      ['bash'],
    );
  });
  it('reads a final answer line when there is no code', () => {
    assert.equal(parseTextAction('All done.\nFinal answer: 42', 'python').finalAnswer, '42');
    assert.equal(parseTextAction('**Final Answer:** the mean is 3.5', 'python').finalAnswer, 'the mean is 3.5');
    assert.equal(parseTextAction('I am thinking.', 'python').finalAnswer, null);
  });
  it('treats a fenced final_answer(...) call as the answer', () => {
    assert.equal(parseTextAction('```py\nfinal_answer("it is 7")\n```', 'python').finalAnswer, 'it is 7');
    assert.equal(parseTextAction("```py\nfinal_answer('a\\'b')\n```", 'python').finalAnswer, "a'b");
  });
});
