/**
 * The files panel: the session workspace as a tree, drag-and-drop or picked
 * uploads, download, preview (text, or images through <img> with a data: URL)
 * and delete. Paths go to the server as given; the server checks them.
 */
import type { ListFilesResponse, WriteFileResponse } from '../../src/mcp/http/api-contract.js';
import { Api, ApiError, enc } from './api.js';
import { clear, download, formatBytes, h } from './dom.js';

const PREVIEW_BYTES = 256 * 1024;
const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
};

interface Dir {
  dirs: Map<string, Dir>;
  files: { name: string; path: string; size: number }[];
}

function buildTree(files: { path: string; size: number }[]): Dir {
  const root: Dir = { dirs: new Map(), files: [] };
  for (const f of files) {
    const parts = f.path.split('/').filter(Boolean);
    let d = root;
    for (const p of parts.slice(0, -1)) {
      let next = d.dirs.get(p);
      if (!next) d.dirs.set(p, (next = { dirs: new Map(), files: [] }));
      d = next;
    }
    d.files.push({ name: parts[parts.length - 1] ?? f.path, path: f.path, size: f.size });
  }
  return root;
}

async function toDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

export class FilesPanel {
  readonly el: HTMLElement;
  #tree: HTMLElement;
  #preview: HTMLElement;
  #note: HTMLElement;
  #sid: string;

  constructor(
    private readonly api: Api,
    sessionId: string,
  ) {
    this.#sid = enc(sessionId);
    const picker = h('input', { type: 'file', multiple: true, class: 'upload-input', hidden: true });
    picker.addEventListener('change', () => {
      void this.upload(Array.from(picker.files ?? []));
      picker.value = '';
    });
    this.#note = h('div', { class: 'panel-note' });
    this.#tree = h('div', { class: 'file-tree' });
    this.#preview = h('div', { class: 'file-preview' });
    const drop = h(
      'div',
      { class: 'drop-zone' },
      'Drop files here or ',
      h('button', { class: 'upload-btn', onclick: () => picker.click() }, 'choose…'),
      picker,
    );
    for (const t of ['dragenter', 'dragover']) {
      drop.addEventListener(t, (e) => {
        e.preventDefault();
        drop.classList.add('drag');
      });
    }
    drop.addEventListener('dragleave', () => drop.classList.remove('drag'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('drag');
      void this.upload(Array.from((e as DragEvent).dataTransfer?.files ?? []));
    });
    this.el = h(
      'div',
      { class: 'panel files-panel' },
      h(
        'div',
        { class: 'panel-tools' },
        h('button', { class: 'files-refresh', onclick: () => void this.refresh() }, 'Refresh'),
      ),
      drop,
      this.#note,
      this.#tree,
      this.#preview,
    );
  }

  async upload(files: File[]): Promise<void> {
    for (const f of files) {
      this.#note.textContent = `Uploading ${f.name}…`;
      try {
        const r = await this.api
          .raw('PUT', `/sessions/${this.#sid}/files/content?path=${enc(f.name)}`, f, 'application/octet-stream')
          .then((res) => res.json() as Promise<WriteFileResponse>);
        this.#note.textContent = `Uploaded ${r.path} (${formatBytes(r.size)})`;
      } catch (e) {
        this.#note.textContent = e instanceof ApiError ? `${f.name}: ${e.code}: ${e.message}` : String(e);
      }
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    let res: ListFilesResponse;
    try {
      res = await this.api.get<ListFilesResponse>(`/sessions/${this.#sid}/files`);
    } catch (e) {
      this.#note.textContent = e instanceof Error ? e.message : String(e);
      return;
    }
    clear(this.#tree);
    const files = [...res.files].sort((a, b) => a.path.localeCompare(b.path));
    if (files.length === 0) this.#tree.appendChild(h('div', { class: 'panel-note' }, 'No files yet.'));
    else this.#tree.appendChild(this.#dir(buildTree(files)));
  }

  #dir(d: Dir): HTMLElement {
    const ul = h('ul', { class: 'tree' });
    for (const [name, sub] of [...d.dirs].sort((a, b) => a[0].localeCompare(b[0]))) {
      ul.appendChild(h('li', {}, h('details', { open: true }, h('summary', {}, `${name}/`), this.#dir(sub))));
    }
    for (const f of d.files) {
      ul.appendChild(
        h(
          'li',
          { class: 'file', 'data-path': f.path },
          h(
            'a',
            { href: '#', class: 'file-name', onclick: (e: Event) => (e.preventDefault(), void this.preview(f.path)) },
            f.name,
          ),
          h('span', { class: 'file-size' }, formatBytes(f.size)),
          h('button', { class: 'file-download', title: 'Download', onclick: () => void this.#download(f.path) }, '⤓'),
          h('button', { class: 'file-delete', title: 'Delete', onclick: () => void this.#delete(f.path) }, '✕'),
        ),
      );
    }
    return ul;
  }

  async #fetch(path: string): Promise<Blob> {
    const res = await this.api.raw('GET', `/sessions/${this.#sid}/files/content?path=${enc(path)}`);
    return res.blob();
  }

  async preview(path: string): Promise<void> {
    clear(this.#preview);
    try {
      const blob = await this.#fetch(path);
      const ext = path.split('.').pop()?.toLowerCase() ?? '';
      const type = IMAGE_TYPES[ext];
      const head = h('div', { class: 'preview-head' }, `${path} · ${formatBytes(blob.size)}`);
      if (type) {
        const url = await toDataUrl(new Blob([blob], { type }));
        this.#preview.append(head, h('img', { class: 'preview-image', src: url, alt: path }));
      } else {
        const text = await blob.slice(0, PREVIEW_BYTES).text();
        this.#preview.append(
          head,
          h('pre', { class: 'preview-text' }, text + (blob.size > PREVIEW_BYTES ? '\n… (preview truncated)' : '')),
        );
      }
    } catch (e) {
      this.#preview.textContent = e instanceof Error ? e.message : String(e);
    }
  }

  async #download(path: string): Promise<void> {
    try {
      download(path.split('/').pop() ?? 'file', await this.#fetch(path));
    } catch (e) {
      this.#note.textContent = e instanceof Error ? e.message : String(e);
    }
  }

  async #delete(path: string): Promise<void> {
    if (!confirm(`Delete ${path}?`)) return;
    try {
      await this.api.raw('DELETE', `/sessions/${this.#sid}/files/content?path=${enc(path)}`);
    } catch (e) {
      this.#note.textContent = e instanceof Error ? e.message : String(e);
    }
    await this.refresh();
  }
}
