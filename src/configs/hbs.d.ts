// templates/*.hbs are precompiled handlebars templates (scripts/hbs.mjs).
declare module "*.hbs" {
  const template: (data: object) => string;
  export default template;
}
