/** A problem found at a field of one object, in the object's own terms. */
export interface FieldProblem {
  /** `spec.template.spec.containers[0].image` */
  readonly path: string;
  readonly message: string;
}
