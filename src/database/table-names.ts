export interface TableNaming {
  schema?: string;
  tablePrefix?: string;
}
