fn main() {
    overlook::viewer::app().run();
}
