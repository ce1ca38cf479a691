/*
 * Runs red-black tree operations on Linux's lib/rbtree.c and prints the tree's shape, for
 * scripts/rbtree-probe.mjs (which compiles this file against a copy of lib/rbtree.c and its
 * headers; none of the kernel's code is in this repository). One operation a line on stdin:
 *
 *   i ID KEY   link a new node ID with KEY where a descent by the nodes' keys ends, as
 *              KSM's callers link at the empty slot they reach, then rb_insert_color
 *   e ID       rb_erase the node ID
 *   r ID NEW   rb_replace_node: a new node NEW takes ID's place, links and colour
 *   k ID KEY   give node ID the key KEY in place (a page that changed inside the tree)
 *   p          print the tree in preorder: "(ID COLOUR LEFT RIGHT)", "-" for no node
 */
#include <stdio.h>
#include <stdlib.h>
#include <linux/rbtree_augmented.h>

struct node {
	struct rb_node rb;
	long key;
	long id;
};

#define MAX_IDS (1 << 20)
static struct node *nodes[MAX_IDS];

static struct node *node_of(long id)
{
	if (id < 0 || id >= MAX_IDS || !nodes[id]) {
		fprintf(stderr, "rbtree-harness: no node %ld\n", id);
		exit(2);
	}
	return nodes[id];
}

static struct node *new_node(long id, long key)
{
	if (id < 0 || id >= MAX_IDS || nodes[id]) {
		fprintf(stderr, "rbtree-harness: node %ld exists or is out of range\n", id);
		exit(2);
	}
	nodes[id] = calloc(1, sizeof(struct node));
	nodes[id]->id = id;
	nodes[id]->key = key;
	return nodes[id];
}

static void print_shape(const struct rb_node *n)
{
	if (!n) {
		putchar('-');
		return;
	}
	printf("(%ld%c ", rb_entry(n, struct node, rb)->id, rb_is_red(n) ? 'r' : 'b');
	print_shape(n->rb_left);
	putchar(' ');
	print_shape(n->rb_right);
	putchar(')');
}

int main(void)
{
	struct rb_root root = RB_ROOT;
	char op[2];
	long id, arg;

	while (scanf("%1s", op) == 1) {
		if (op[0] == 'p') {
			print_shape(root.rb_node);
			putchar('\n');
			continue;
		}
		if (scanf("%ld", &id) != 1)
			return 2;
		if (op[0] == 'e') {
			rb_erase(&node_of(id)->rb, &root);
			free(nodes[id]);
			nodes[id] = NULL;
			continue;
		}
		if (scanf("%ld", &arg) != 1)
			return 2;
		if (op[0] == 'i') {
			struct rb_node **link = &root.rb_node, *parent = NULL;
			struct node *n = new_node(id, arg);

			while (*link) {
				parent = *link;
				link = arg < rb_entry(parent, struct node, rb)->key ? &parent->rb_left
										   : &parent->rb_right;
			}
			rb_link_node(&n->rb, parent, link);
			rb_insert_color(&n->rb, &root);
		} else if (op[0] == 'r') {
			struct node *old = node_of(id);
			struct node *n = new_node(arg, old->key);

			rb_replace_node(&old->rb, &n->rb, &root);
			free(old);
			nodes[id] = NULL;
		} else if (op[0] == 'k') {
			node_of(id)->key = arg;
		} else {
			return 2;
		}
	}
	return 0;
}
