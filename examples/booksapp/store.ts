/**
 * An in-memory table with numeric ids, and the seed data of the authors and books services. Each
 * replica has its own copy: the apps exist to make traffic, not to keep data.
 */

export interface Author {
  readonly id: number;
  readonly name: string;
}

export interface Book {
  readonly id: number;
  readonly title: string;
  readonly authorId: number;
}

export class Table<T extends { readonly id: number }> {
  private readonly rows = new Map<number, T>();
  private nextId = 1;

  constructor(seed: ReadonlyArray<Omit<T, 'id'>> = []) {
    for (const row of seed) this.insert(row);
  }

  list(): T[] {
    return [...this.rows.values()];
  }

  get(id: number): T | undefined {
    return this.rows.get(id);
  }

  insert(row: Omit<T, 'id'>): T {
    const created = { ...row, id: this.nextId++ } as T;
    this.rows.set(created.id, created);
    return created;
  }

  update(id: number, change: Partial<Omit<T, 'id'>>): T | undefined {
    const old = this.rows.get(id);
    if (old === undefined) return undefined;
    const updated = { ...old, ...change, id } as T;
    this.rows.set(id, updated);
    return updated;
  }

  delete(id: number): boolean {
    return this.rows.delete(id);
  }
}

/** Authors 1..4, in this order: the books below refer to them by id. */
export const SEED_AUTHORS: ReadonlyArray<Omit<Author, 'id'>> = [
  { name: 'Mary Shelley' },
  { name: 'Herman Melville' },
  { name: 'Jane Austen' },
  { name: 'Fyodor Dostoevsky' },
];

export const SEED_BOOKS: ReadonlyArray<Omit<Book, 'id'>> = [
  { title: 'Frankenstein', authorId: 1 },
  { title: 'Moby-Dick', authorId: 2 },
  { title: 'Emma', authorId: 3 },
  { title: 'Persuasion', authorId: 3 },
  { title: 'The Idiot', authorId: 4 },
];
